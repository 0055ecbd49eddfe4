# deploy_build_host.sh - `switch --target-host T --build-host B` against real sshds: the
# host is evaluated here, built on B (its own store, a separate mount namespace as every
# target), and the closure relayed B -> here -> T without entering the local store. The
# toplevel is the path a local build gives; B lacking flakectl or unreachable is an error
# naming B with nothing changed on T; B = T works over one connection.
source "$(dirname "$0")/lib/expect.sh"
source "$(dirname "$0")/lib/deploy.sh"
deploy_setup
deploy_target_start n1
T=$SSHD_TARGET
deploy_target_start bh
B=$SSHD_TARGET
deploy_write_flake "n1 $T"
cat >"$DEPLOY_FLAKE/n1.nix" <<'EOF'
{ pkgs, ... }: {
  networking.hostName = "n1";
  environment.etc."greeting".text = "v1\n";
  environment.etc."motd".source = pkgs.writeText "motd" "built remotely\n";
  systemd.services.hello = { wantedBy = [ "multi-user.target" ]; script = "echo hi"; };
  system.activationScripts.mark = "echo marked > \"$FLAKECTL_ROOT/marked\"";
}
EOF
# a fixed-output download (pkgs.fetchurl, file:// here) is fetched by the build host too
printf 'fetched by the build host\n' > "$DEPLOY_WORK/upstream"
up_sha=$(sha256sum "$DEPLOY_WORK/upstream" | cut -d' ' -f1)
sed -i "s|^  networking.hostName = \"n1\";|&\n  environment.etc.\"fetched\".source = pkgs.fetchurl { url = \"file://$DEPLOY_WORK/upstream\"; sha256 = \"$up_sha\"; };|" "$DEPLOY_FLAKE/n1.nix"
grep -q pkgs.fetchurl "$DEPLOY_FLAKE/n1.nix" || fail "the test's edit of n1.nix did not apply"
troot=$DEPLOY_WORK/targets/n1/root
tstore=$DEPLOY_WORK/targets/n1/state/store
bstore=$DEPLOY_WORK/targets/bh/state/store
lstore=$DEPLOY_STATE/store
ssh_opts=(-i "$SSHD_CLIENT_KEY" --accept-new-host-key)
# Links on the target name the store at the builder's path, which here lacks the built
# paths: follow them with that prefix mapped to the target's own store.
tcat() { # FILE under the target root
  local p=$1 n=0 l
  while [ $n -lt 20 ]; do
    case $p in "$lstore"/*) p=$tstore/${p#"$lstore"/} ;; esac
    # resolve the first symlink component
    local pre="" rest=${p#/} comp found=0
    while [ -n "$rest" ]; do
      comp=${rest%%/*}
      [ "$comp" = "$rest" ] && rest="" || rest=${rest#*/}
      pre=$pre/$comp
      if [ -L "$pre" ]; then
        l=$(readlink "$pre")
        case $l in /*) ;; *) l=$(dirname "$pre")/$l ;; esac
        p=$l${rest:+/$rest}
        found=1
        break
      fi
    done
    [ $found = 0 ] && { cat "$p"; return; }
    n=$((n + 1))
  done
  echo "too many links at $1" >&2
}

fl_deploy switch --host n1 --target-host "$T" --build-host "$B" "${ssh_opts[@]}"
expect_eq "build-host deploy exit" 0 "$rc"
expect_contains "evaluated here" "[n1] evaluated " "$out"
expect_contains "built there" "[build host $B] built " "$err"
expect_contains "relayed to the target" "[n1] copied " "$err"
expect_contains "deployed" "[n1] deployed: generation 1" "$out"
top=$(target_current n1)
base=$(basename "$top")
expect_eq "target runs a flakectl-system toplevel" "flakectl-system-n1" "${base#*-}"
expect_eq "greeting on the target" "v1" "$(tcat "$troot/etc/static/greeting")"
expect_eq "activation script ran on the target" "marked" "$(cat "$troot/marked")"
expect_eq "fetched file on the target" "fetched by the build host" "$(tcat "$troot/etc/static/fetched")"
expect_eq "fetched by the build host, not here" "" "$(ls "$lstore" | grep -- '-upstream$' || true)"
[ -n "$(ls "$bstore" | grep -- '-upstream$')" ] || fail "the download is not in the build host's store"
[ -d "$tstore/$base" ] || fail "the toplevel is not in the target's store"
[ -d "$bstore/$base" ] || fail "the toplevel is not in the build host's store"
# relayed, never stored here: no built output (toplevel, writeText, unit scripts, drvs)
expect_eq "toplevel not in the local store" "no" "$([ -e "$lstore/$base" ] && echo yes || echo no)"
expect_eq "no build output in the local store" "" \
  "$(ls "$lstore" | grep -E 'flakectl-system-n1$|-motd$|unit-script-hello$|\.drv$' || true)"
expect_eq "no build log here" "" "$(ls "$DEPLOY_STATE/log" 2>/dev/null)"
expect_eq "nothing activated on the builder" "" "$(ls "$DEPLOY_WORK/localroot")"
# the build host keeps a GC root for what it built
expect_eq "build host GC root" "$top" "$(readlink "$DEPLOY_WORK/targets/bh/state/gcroots/build-host-n1")"
# both remote stores verify (over SSH, where each store is at the right path)
for h in "$T" "$B"; do
  run_fl remote-exec --target-host "$h" -i "$SSHD_CLIENT_KEY" -- flakectl store verify --check-contents
  expect_eq "store on $h verifies" 0 "$rc"
done
# content addressing: a local build gives the very same toplevel path
run_fl --flake "$DEPLOY_FLAKE" --state-dir "$DEPLOY_STATE" build --host n1 --no-link
expect_eq "local build exit" 0 "$rc"
expect_eq "same toplevel as a local build" "$top" "$out"
expect_eq "local build's motd equals the relayed one" "$(cat "$lstore/$(basename "$(readlink "$tstore/$base/etc/motd")")")" \
  "$(cat "$tstore/$(basename "$(readlink "$tstore/$base/etc/motd")")")"

# no-op redeploy through the build host: built nothing new, copied nothing
fl_deploy switch --host n1 --target-host "$T" --build-host "$B" -i "$SSHD_CLIENT_KEY"
expect_eq "no-op build-host deploy exit" 0 "$rc"
expect_contains "nothing built again" "(0 outputs built" "$err"
expect_contains "nothing copied again" "nothing to copy" "$err"
expect_contains "unchanged" "[n1] unchanged: generation 1" "$out"

# a build host without flakectl: named, with the hint, and the target untouched
SSHD_PATH_PREPEND= sshd_start nofl
NOFL=$SSHD_TARGET
sed -i 's/v1/v2/' "$DEPLOY_FLAKE/n1.nix"
before=$(ls "$tstore" | sort)
fl_deploy switch --host n1 --target-host "$T" --build-host "$NOFL" "${ssh_opts[@]}"
expect_eq "no flakectl exit" 1 "$rc"
expect_contains "no flakectl named" "flakectl is not installed on build host $NOFL" "$err"
expect_contains "no flakectl frame" "while building n1 on the build host $NOFL" "$err"
expect_eq "target store unchanged (no flakectl)" "$before" "$(ls "$tstore" | sort)"
expect_eq "target still v1 (no flakectl)" "v1" "$(tcat "$troot/etc/static/greeting")"
expect_eq "target still generation 1" "system-1-link" "$(target_default n1)"

# an unreachable build host: the same
sshd_stop nofl
fl_deploy switch --host n1 --target-host "$T" --build-host "$NOFL" -i "$SSHD_CLIENT_KEY" \
  --connect-timeout 5
expect_eq "unreachable exit" 1 "$rc"
expect_contains "unreachable named" "connection refused by 127.0.0.1 port ${NOFL##*:}" "$err"
expect_contains "unreachable frame" "while building n1 on the build host $NOFL" "$err"
expect_eq "target store unchanged (unreachable)" "$before" "$(ls "$tstore" | sort)"
expect_eq "target still v1 (unreachable)" "v1" "$(tcat "$troot/etc/static/greeting")"

# the changed deploy through the build host: only the changed paths travel
fl_deploy switch --host n1 --target-host "$T" --build-host "$B" -i "$SSHD_CLIENT_KEY"
expect_eq "changed build-host deploy exit" 0 "$rc"
expect_contains "changed deploy confirmed" "[n1] deployed: generation 2 (confirmed)" "$out"
expect_eq "greeting v2" "v2" "$(tcat "$troot/etc/static/greeting")"
top2=$(target_current n1)
[ "$top2" != "$top" ] || fail "the changed deploy kept the old toplevel"
expect_eq "changed toplevel not in the local store" "no" \
  "$([ -e "$lstore/$(basename "$top2")" ] && echo yes || echo no)"

# the build host is the target: built there, nothing relayed, over one connection
sed -i 's/v2/v3/' "$DEPLOY_FLAKE/n1.nix"
fl_deploy switch --host n1 --target-host "$T" --build-host "$T" -i "$SSHD_CLIENT_KEY"
expect_eq "build host = target exit" 0 "$rc"
expect_contains "built on the target" "[build host $T] built " "$err"
expect_contains "nothing to relay" "[n1] nothing to copy: all" "$err"
expect_eq "greeting v3" "v3" "$(tcat "$troot/etc/static/greeting")"
expect_eq "target generation 3" "system-3-link" "$(target_default n1)"
top3=$(target_current n1)
expect_eq "v3 toplevel not in the local store" "no" \
  "$([ -e "$lstore/$(basename "$top3")" ] && echo yes || echo no)"
expect_eq "v3 not on the other build host" "no" \
  "$([ -e "$bstore/$(basename "$top3")" ] && echo yes || echo no)"
run_fl --flake "$DEPLOY_FLAKE" --state-dir "$DEPLOY_STATE" build --host n1 --no-link
expect_eq "v3 same toplevel as a local build" "$top3" "$out"

# the build host's agent refuses a plan that is not one, or whose paths do not come out
run_fl --state-dir "$DEPLOY_WORK/agent" deploy-agent build <<<"garbage"
expect_eq "bad plan exit" 1 "$rc"
expect_contains "bad plan said" "not a build plan of version 1" "$err"
storedir=$DEPLOY_WORK/agent/store
fake=$storedir/00000000000000000000000000000000-x
printf 'flakectl-build-plan 1\nstore %d:%s\nself 0:\ntoplevel %d:%s\ntext 1:x\npath %d:%s\ndata 2:hi\nend 0:\n' \
  ${#storedir} "$storedir" ${#fake} "$fake" ${#fake} "$fake" >"$DEPLOY_WORK/plan"
run_fl --state-dir "$DEPLOY_WORK/agent" deploy-agent build <"$DEPLOY_WORK/plan"
expect_eq "mismatched plan exit" 1 "$rc"
expect_contains "mismatched plan said" "the build plan says 'x' becomes $fake, but here it is" "$err"
sed "s|^store [0-9]*:.*|store 4:/nix|" "$DEPLOY_WORK/plan" >"$DEPLOY_WORK/plan2"
run_fl --state-dir "$DEPLOY_WORK/agent" deploy-agent build <"$DEPLOY_WORK/plan2"
expect_eq "other store plan exit" 1 "$rc"
expect_contains "other store plan said" "the build plan is for the store /nix" "$err"

# reading a build output during evaluation cannot work when nothing is built here (a path made
# of the output's name: without discarding the context, Nix and flakectl refuse to append a
# string that refers to a store path to a path before anything is read)
cat >"$DEPLOY_FLAKE/n1.nix" <<'EOF'
{ pkgs, ... }: {
  networking.hostName = "n1";
  environment.etc."copied".source =
    /. + builtins.unsafeDiscardStringContext "${pkgs.writeText "inner" "x\n"}";
}
EOF
fl_deploy switch --host n1 --target-host "$T" --build-host "$B" -i "$SSHD_CLIENT_KEY"
expect_eq "import from derivation exit" 1 "$rc"
expect_contains "import from derivation said" "an output that is not built yet" "$err"
expect_contains "import from derivation hint" "deploy without --build-host" "$err"
expect_eq "target still generation 3" "system-3-link" "$(target_default n1)"

# a fleet through one build host: each host planned here, built there (2 at once), relayed
deploy_target_start n2
T2=$SSHD_TARGET
deploy_write_flake "n1 $T \"web\"" "n2 $T2 \"web\""
echo '{ ... }: { networking.hostName = "n1"; environment.etc."greeting".text = "fleet1\n"; }' >"$DEPLOY_FLAKE/n1.nix"
echo '{ ... }: { networking.hostName = "n2"; environment.etc."greeting".text = "fleet2\n"; }' >"$DEPLOY_FLAKE/n2.nix"
fl_deploy switch --on @web -j 2 --build-host "$B" "${ssh_opts[@]}"
expect_eq "fleet through the build host exit" 0 "$rc"
expect_contains "fleet summary" "2 of 2 hosts succeeded" "$err"
expect_eq "fleet n1 greeting" "fleet1" "$(tcat "$troot/etc/static/greeting")"
top_n2=$(target_current n2)
expect_eq "fleet n2 toplevel built on the build host" "yes" \
  "$([ -d "$bstore/$(basename "$top_n2")" ] && echo yes || echo no)"
expect_eq "fleet n2 toplevel not local" "no" \
  "$([ -e "$lstore/$(basename "$top_n2")" ] && echo yes || echo no)"
expect_eq "fleet n2 GC root on the build host" "$top_n2" \
  "$(readlink "$DEPLOY_WORK/targets/bh/state/gcroots/build-host-n2")"

# --build-host alone is a usage error
fl_deploy switch --host n1 --build-host "$B"
expect_eq "build host without target exit" 2 "$rc"
expect_contains "build host without target said" "--build-host needs --target-host or --on" "$err"
echo "deploy_build_host: all checks passed"
