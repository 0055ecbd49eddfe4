# deploy_sudo.sh - `switch --target-host USER@H --sudo` with a non-root login and a real sudo
# that wants a password: the password comes from an askpass program that is called exactly
# once for the whole deployment (check, copy, activation, and the confirmation over a second
# connection) and once for a remote rollback; everything on the target runs as root; a wrong
# password stops the deploy before anything is copied or activated. Needs root (it creates
# the test users and a sudoers drop-in, as remote_sudo.sh does; CI runs as root).
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
[ "$(id -u)" = 0 ] || fail "deploy_sudo needs root to create its test users (CI runs as root)"
command -v sudo >/dev/null || fail "sudo is not installed: run scripts/install-deps.sh"
deploy_setup
unset SUDO_ASKPASS

sudo_test_users || fail "cannot create the test users and their sudoers drop-in"
u=$SUDO_U

deploy_target_start n1
# the non-root login must read the shared authorized_keys and its HOME
chmod 755 "$SSHD_BASE" "$SSHD_DIR"
chmod 644 "$SSHD_DIR/authorized_keys"
chmod 1777 "$SSHD_DIR/home"
T="$u@127.0.0.1:$SSHD_PORT"
mkdir -p "$HOME/.ssh"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >"$HOME/.ssh/known_hosts"
troot=$DEPLOY_WORK/targets/n1/root
tstore=$DEPLOY_WORK/targets/n1/state/store

askpass=$DEPLOY_WORK/askpass
calls=$DEPLOY_WORK/askpass.calls
cat >"$askpass" <<ASK
#!/bin/sh
echo called >>"$calls"
echo "\${FAKE_PASSWORD:-correct horse battery}"
ASK
chmod 755 "$askpass"
ncalls() { if [ -f "$calls" ]; then wc -l <"$calls"; else echo 0; fi; }

deploy_write_flake "n1 $T"
cat >"$DEPLOY_FLAKE/n1.nix" <<'EOF'
{ ... }: {
  networking.hostName = "n1";
  environment.etc."greeting".text = "v1\n";
  system.activationScripts.whoami = "id -u > \"$FLAKECTL_ROOT/activated-as\"";
}
EOF

# a wrong password: refused before the first real step, nothing copied, nothing activated
FAKE_PASSWORD=wrong fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" \
  --sudo --askpass "$askpass"
expect_eq "wrong password exit" 1 "$rc"
expect_contains "wrong password named" "sudo on n1 rejected the password for $u" "$err"
expect_eq "nothing copied after a wrong password" "" "$(ls "$tstore" 2>/dev/null)"
expect_eq "nothing activated after a wrong password" "" "$(ls "$troot")"
expect_eq "askpass asked once for the wrong password" 1 "$(ncalls)"

# the first deploy (nothing to roll back to, so no confirmation): root does the work
rm -f "$calls"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --sudo --askpass "$askpass" \
  --confirm-timeout 20
expect_eq "sudo deploy exit" 0 "$rc"
expect_contains "sudo deploy done" "[n1] deployed: generation 1" "$out"
expect_contains "copied through sudo" "[n1] copied " "$err"
expect_eq "askpass called once for the first deploy" 1 "$(ncalls)"
expect_not_contains "password never shown" "horse" "$out$err"
expect_eq "activation ran as root" 0 "$(cat "$troot/activated-as")"
expect_eq "greeting on the target" "v1" "$(cat "$troot/etc/static/greeting")"
expect_eq "target generation 1" "system-1-link" "$(target_default n1)"
top=$(readlink "$troot/run/flakectl/current")
expect_eq "imported by root" "root" "$(stat -c %U "$tstore/$(basename "$top")")"
expect_eq "the builder kept its own store" "" "$(ls "$DEPLOY_WORK/localroot")"

# a changed deploy (check, copy, activate, confirm over a new connection) and a remote
# rollback, each asking once
sed -i 's/v1/v2/' "$DEPLOY_FLAKE/n1.nix"
rm -f "$calls"
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" --sudo --askpass "$askpass"
expect_eq "changed sudo deploy exit" 0 "$rc"
# magic rollback: the confirmation went over a second connection, through sudo too
expect_contains "changed sudo deploy confirmed" "[n1] deployed: generation 2 (confirmed)" "$out"
expect_eq "greeting v2" "v2" "$(cat "$troot/etc/static/greeting")"
expect_eq "askpass once for the changed deploy" 1 "$(ncalls)"
rm -f "$calls"
fl_deploy rollback --target-host "$T" -i "$SSHD_CLIENT_KEY" --sudo --askpass "$askpass"
expect_eq "sudo rollback exit" 0 "$rc"
expect_eq "rolled back to v1" "v1" "$(cat "$troot/etc/static/greeting")"
expect_eq "target default back to 1" "system-1-link" "$(target_default n1)"
expect_eq "askpass once for the rollback" 1 "$(ncalls)"

# a wrong password on a later deploy changes nothing that is there
sed -i 's/v2/v3/' "$DEPLOY_FLAKE/n1.nix"
before=$(ls "$tstore" | sort)
FAKE_PASSWORD=wrong fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY" \
  --sudo --askpass "$askpass"
expect_eq "second wrong password exit" 1 "$rc"
expect_eq "store unchanged after a wrong password" "$before" "$(ls "$tstore" | sort)"
expect_eq "still v1" "v1" "$(cat "$troot/etc/static/greeting")"
expect_eq "still generation 1" "system-1-link" "$(target_default n1)"

# without --sudo the same login cannot write the target's store
fl_deploy switch --host n1 --target-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "no sudo exit" 1 "$rc"
# said once: the target needs root and --sudo gives it, not "install the same version"
expect_contains "no sudo: needs root" "error: the deployment needs root on n1" "$err"
expect_contains "no sudo: --sudo hint" "deploy with --sudo" "$err"
expect_eq "no sudo: one error" 1 "$(grep -c 'error:' <<<"$err")"
expect_eq "still v1 without sudo" "v1" "$(cat "$troot/etc/static/greeting")"
# through a build host with the same non-root login: one password for the build host's
# connection, the target's and the confirmation's; the build ran as root there
deploy_target_start bh
chmod 755 "$SSHD_BASE" "$SSHD_DIR"
chmod 644 "$SSHD_DIR/authorized_keys"
chmod 1777 "$SSHD_DIR/home"
B="$u@127.0.0.1:$SSHD_PORT"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_HOSTPUB")" >>"$HOME/.ssh/known_hosts"
rm -f "$calls"
fl_deploy switch --host n1 --target-host "$T" --build-host "$B" -i "$SSHD_CLIENT_KEY" --sudo \
  --askpass "$askpass"
expect_eq "sudo build-host deploy exit" 0 "$rc"
expect_contains "sudo build-host deploy confirmed" "(confirmed)" "$out"
expect_eq "askpass once for build host, target and confirmation" 1 "$(ncalls)"
expect_eq "greeting v3 through the build host" "v3" "$(cat "$troot/etc/static/greeting")"
top=$(readlink "$troot/run/flakectl/current")
expect_eq "built by root on the build host" "root" \
  "$(stat -c %U "$DEPLOY_WORK/targets/bh/state/store/$(basename "$top")")"
echo "deploy_sudo: all checks passed"
