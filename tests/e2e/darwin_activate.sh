#!/usr/bin/env bash
# darwin_activate.sh - a darwin switch applies users (dscl), system.defaults and launchd jobs
# (and deletes the accounts, group members and defaults keys a later configuration drops),
# with exact command lines. No Mac here: flakectl runs in a chroot made of the cached Debian
# root, marked as macOS by /System/Library/CoreServices/SystemVersion.plist, with the console
# user as owner of /dev/console (as macOS sets it). launchctl, defaults, dscl, killall and
# createhomedir cannot exist on Linux: RECORDERS (shell scripts first on PATH) stand in for
# them, log every call with the calling uid, and answer `defaults read`/`dscl -read` from a
# small fixture. Everything else (flakectl's evaluation, build, plan, files) is real.
source "$FLAKECTL_SRC/tests/e2e/lib/expect.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the chroot needs root" >&2; exit 77; }
W=$(mktemp -d /var/tmp/flakectl-darwin.XXXXXX)
trap 'rm -rf "$W"' EXIT
source "$FLAKECTL_SRC/tests/e2e/lib/debian-root.bash"
R=$W/root
debian_root_copy "$R"
install -m 0755 "$FLAKECTL" "$R/usr/local/bin/flakectl"
for lib in $(ldd "$FLAKECTL" | awk '/=> \//{print $3}'); do
    [ -e "$R$lib" ] || { mkdir -p "$(dirname "$R$lib")"; cp "$lib" "$R$lib"; }
done
mkdir -p "$R/System/Library/CoreServices"
echo '<plist><dict><key>ProductName</key><string>macOS</string></dict></plist>' >"$R/System/Library/CoreServices/SystemVersion.plist"
# alice (501) is logged in at the console; her account already exists (shell bash).
echo 'alice:x:501:20:Alice:/Users/alice:/bin/bash' >>"$R/etc/passwd"
mkdir -p "$R/Users/alice" && chown 501:20 "$R/Users/alice"
chown 501 "$R/dev/console"

# ---- the recorders (test doubles for macOS-only programs) ----
: >"$R/var/log/recorded" && chmod 666 "$R/var/log/recorded"
mkdir -p "$R/fake/defaults" "$R/fake/dscl/Users" "$R/fake/dscl/Groups" && chmod -R 777 "$R/fake/defaults"
rec='echo "uid=$(id -u) $(basename "$0") $*" >>/var/log/recorded'
for p in launchctl killall createhomedir; do
    printf '#!/bin/sh\n%s\n' "$rec" >"$R/usr/local/sbin/$p"
done
cat >"$R/usr/local/sbin/defaults" <<EOF
#!/bin/sh
# defaults read|read-type DOMAIN KEY answer from /fake/defaults/DOMAIN/KEY.{value,type};
# writes are recorded and stored (as defaults would).
f="/fake/defaults/\$2/\$3"
case "\$1" in
read) [ -f "\$f.value" ] || exit 1; cat "\$f.value" ;;
delete) $rec; rm -f "\$f.value" "\$f.type" ;;
read-type) [ -f "\$f.type" ] || exit 1; echo "Type is \$(cat "\$f.type")" ;;
write) $rec
    mkdir -p "/fake/defaults/\$2"
    case "\$4" in -bool) t=boolean; case "\$5" in true) v=1 ;; *) v=0 ;; esac ;;
    -int) t=integer v=\$5 ;; -float) t=float v=\$5 ;; *) t=string v=\$5 ;; esac
    echo "\$v" >"\$f.value"; echo "\$t" >"\$f.type" ;;
esac
EOF
cat >"$R/usr/local/sbin/dscl" <<EOF
#!/bin/sh
# dscl . -read RECORD answers from /fake/dscl/RECORD; -create, -append and -delete (of a record,
# or of one value of an attribute) are recorded and kept there (one "Key: value" line per
# attribute), as the directory service would.
f="/fake/dscl\$3"
case "\$2" in
-read) [ -f "\$f" ] || exit 56; cat "\$f" ;;
-delete) $rec
    if [ -z "\$4" ]; then rm -f "\$f"; else
        # One value out of an attribute's list, as dscl . -delete RECORD KEY VALUE does.
        left=\$(sed -n "s/^\$4: //p" "\$f" | tr ' ' '\\n' | grep -vx "\$5" | tr '\\n' ' ' | sed 's/ \$//')
        grep -v "^\$4:" "\$f" >"\$f.new"; [ -z "\$left" ] || echo "\$4: \$left" >>"\$f.new"; mv "\$f.new" "\$f"
    fi ;;
-create) $rec; touch "\$f"
    [ -z "\$4" ] || { grep -v "^\$4:" "\$f" >"\$f.new"; echo "\$4: \$5" >>"\$f.new"; mv "\$f.new" "\$f"; } ;;
-append) $rec; old=\$(sed -n "s/^\$4: //p" "\$f")
    grep -v "^\$4:" "\$f" >"\$f.new"; echo "\$4: \${old:+\$old }\$5" >>"\$f.new"; mv "\$f.new" "\$f" ;;
*) $rec ;;
esac
EOF
chmod 755 "$R/usr/local/sbin/"*
printf 'UniqueID: 501\nPrimaryGroupID: 20\nNFSHomeDirectory: /Users/alice\nUserShell: /bin/bash\nRealName:\n Alice Admin\n' >"$R/fake/dscl/Users/alice"
printf 'PrimaryGroupID: 20\nGroupMembership: root alice\n' >"$R/fake/dscl/Groups/staff"
setdef() { mkdir -p "$R/fake/defaults/$1"; echo "$3" >"$R/fake/defaults/$1/$2.value"; echo "$4" >"$R/fake/defaults/$1/$2.type"; }
setdef com.apple.dock autohide 1 boolean
setdef com.apple.dock tilesize 36 integer
setdef com.apple.finder ShowPathbar 1 boolean
chmod -R a+rwX "$R/fake/defaults"

mkdir -p "$R/flake"
cat >"$R/flake/flake.nix" <<'EOF'
{
  outputs = { self, ... }: {
    hosts.mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ./mac.nix ]; };
  };
}
EOF
mac() { # FINDER_PATHBAR AGENT_INTERVAL DAEMON(yes/no) [BOB'S EXTRA GROUPS]
    cat >"$R/flake/mac.nix" <<EOF
{ lib, ... }: {
  networking.hostName = "mac";
  users.users.alice = { isNormalUser = true; uid = 501; shell = "/bin/zsh"; description = "Alice Admin"; };
  users.users.bob = { isNormalUser = true; uid = 502; shell = "/bin/zsh"; description = "Bob"; extraGroups = [ ${4-\"admin2\"} ]; };
  users.groups.admin2.gid = 510;
  system.defaults = {
    "com.apple.dock" = { autohide = true; tilesize = 48; };
    "com.apple.finder".ShowPathbar = $1;
    NSGlobalDomain.KeyRepeat = 2;
  };
  launchd.agents.sync = { script = "echo sync"; serviceConfig = { StartInterval = $2; RunAtLoad = true; }; };
  $( [ "$3" = yes ] && echo 'launchd.daemons.backup = { script = "echo backup"; serviceConfig.KeepAlive = true; };' )
}
EOF
}
fl_mac() {
    : >"$R/var/log/recorded"
    rc=0
    # A private mount namespace: /proc for the chroot, gone with the process.
    out=$(unshare -m sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" \
        /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/bin HOME=/root \
        /usr/local/bin/flakectl --flake /flake "$@" 2>"$W/err") || rc=$?
    err=$(cat "$W/err")
    recorded=$(cat "$R/var/log/recorded")
}

mac true 3600 yes
dbs_before=$(cat "$R/etc/passwd" "$R/etc/group" "$R/etc/shadow" | sha256sum)
# the plan as JSON (docs/json.md "darwin") first: it runs nothing, and lists exactly the
# commands the switch below runs, in order (plist installs as "plist" steps)
fl_mac dry-activate --host mac --json
expect_eq "dry-activate --json exit" 0 "$rc"
expect_eq "dry-activate --json ran nothing" "" "$recorded"
plan_json=$out
planned=$(jq -r '(.darwin.accounts[] | "uid=0 " + (.command | join(" "))),
  (.darwin.steps[] | select(.kind != "plist") | "uid=\(.uid // 0) " + (.command | join(" ")))' <<<"$plan_json")
expect_eq "JSON: executed on this (marked) Mac, no systemd units" "true null null" \
  "$(jq -r '"\(.darwin.executed) \(.units) \(.wsl)"' <<<"$plan_json")"
expect_eq "JSON: the plists, daemon's then agent's" \
  "add /Library/LaunchDaemons/org.flakectl.backup.plist null
add /Users/alice/Library/LaunchAgents/org.flakectl.sync.plist 501" \
  "$(jq -r '.darwin.steps[] | select(.kind == "plist") | "\(.change) \(.path) \(.uid)"' <<<"$plan_json")"
expect_eq "JSON: kinds of the other steps" "defaults defaults restart launchd launchd" \
  "$(jq -r '[.darwin.steps[] | select(.kind != "plist") | .kind] | join(" ")' <<<"$plan_json")"
expect_eq "JSON: a defaults write named" "write com.apple.dock tilesize" \
  "$(jq -r '.darwin.steps[] | select(.kind == "defaults" and .key == "tilesize") | "\(.action) \(.domain) \(.key)"' <<<"$plan_json")"
expect_eq "JSON: the restart and the bootstraps" "Dock
bootstrap system /Library/LaunchDaemons/org.flakectl.backup.plist
bootstrap gui/501 /Users/alice/Library/LaunchAgents/org.flakectl.sync.plist" \
  "$(jq -r '(.darwin.steps[] | select(.kind == "restart") | .process),
    (.darwin.steps[] | select(.kind == "launchd") | "\(.action) \(.domain) \(.path)")' <<<"$plan_json")"
expect_eq "JSON: no Homebrew without homebrew.enable or brews" "null" "$(jq -c .homebrew <<<"$plan_json")"
fl_mac switch --host mac --backup-ext pre-flakectl
expect_eq "the JSON plan lists the commands the switch ran" "$planned" "$recorded"
echo "$out" >&2; echo "$err" >&2
expect_eq "first switch exit" 0 "$rc"
store=$(ls -d "$R"/var/lib/flakectl/store/*-org.flakectl.sync.plist | sed "s|^$R||")
expect_eq "first switch: exact commands, in order" "uid=0 dscl . -create /Groups/admin2
uid=0 dscl . -create /Groups/admin2 RealName admin2
uid=0 dscl . -create /Groups/admin2 PrimaryGroupID 510
uid=0 dscl . -append /Groups/admin2 GroupMembership bob
uid=0 dscl . -create /Users/alice UserShell /bin/zsh
uid=0 dscl . -create /Users/bob
uid=0 dscl . -create /Users/bob UniqueID 502
uid=0 dscl . -create /Users/bob PrimaryGroupID 20
uid=0 dscl . -create /Users/bob NFSHomeDirectory /Users/bob
uid=0 dscl . -create /Users/bob UserShell /bin/zsh
uid=0 dscl . -create /Users/bob RealName Bob
uid=0 createhomedir -c -u bob
uid=501 defaults write NSGlobalDomain KeyRepeat -int 2
uid=501 defaults write com.apple.dock tilesize -int 48
uid=501 killall Dock
uid=0 launchctl bootstrap system /Library/LaunchDaemons/org.flakectl.backup.plist
uid=0 launchctl bootstrap gui/501 /Users/alice/Library/LaunchAgents/org.flakectl.sync.plist" "$recorded"
expect_not_contains "Finder not restarted (none of its keys changed)" "Finder" "$recorded"
expect_not_contains "the plan says launchd, not systemd" "systemd units" "$out"
expect_contains "daemon plist in place" "<key>KeepAlive</key><true/>" "$(cat "$R/Library/LaunchDaemons/org.flakectl.backup.plist")"
expect_eq "daemon plist root-owned 0644" "0 644" "$(stat -c '%u %a' "$R/Library/LaunchDaemons/org.flakectl.backup.plist")"
expect_eq "agent plist alice's" "501 644" "$(stat -c '%u %a' "$R/Users/alice/Library/LaunchAgents/org.flakectl.sync.plist")"
expect_contains "agent RunAtLoad passed through" "<key>RunAtLoad</key><true/>" "$(cat "$R/Users/alice/Library/LaunchAgents/org.flakectl.sync.plist")"
expect_eq "/etc/passwd, group and shadow untouched (macOS: dscl only)" "$dbs_before" "$(cat "$R/etc/passwd" "$R/etc/group" "$R/etc/shadow" | sha256sum)"

# Nothing changed: no command at all.
fl_mac switch --host mac
expect_eq "no-op exit" 0 "$rc"
expect_eq "no-op runs nothing" "" "$recorded"

# Finder's key and the agent change; the daemon is unchanged: Finder restarted (not Dock), the
# agent booted out and bootstrapped again, the daemon untouched.
mac false 600 yes
fl_mac switch --host mac
echo "$out" >&2; echo "$err" >&2
expect_eq "second switch exit" 0 "$rc"
expect_eq "second switch: exact commands" "uid=501 defaults write com.apple.finder ShowPathbar -bool false
uid=501 killall Finder
uid=0 launchctl bootout gui/501/org.flakectl.sync
uid=0 launchctl bootstrap gui/501 /Users/alice/Library/LaunchAgents/org.flakectl.sync.plist" "$recorded"
expect_contains "agent plist updated" "<integer>600</integer>" "$(cat "$R/Users/alice/Library/LaunchAgents/org.flakectl.sync.plist")"

# The daemon goes: booted out and its plist removed.
mac false 600 no
fl_mac switch --host mac
expect_eq "third switch exit" 0 "$rc"
expect_eq "third switch: exact commands" "uid=0 launchctl bootout system/org.flakectl.backup" "$recorded"
[ ! -e "$R/Library/LaunchDaemons/org.flakectl.backup.plist" ] || fail "daemon plist left behind"

# bob leaves admin2: only he is deleted from its members; carol, added by hand, stays.
dscl_members() { sed -n 's/^GroupMembership: //p' "$R/fake/dscl/Groups/admin2"; }
expect_eq "admin2's members so far" bob "$(dscl_members)"
sed -i 's/^GroupMembership: .*/& carol/' "$R/fake/dscl/Groups/admin2"
mac false 600 no ""
fl_mac switch --host mac
echo "$out" >&2; echo "$err" >&2
expect_eq "member removal exit" 0 "$rc"
expect_eq "member removal: exact commands" "uid=0 dscl . -delete /Groups/admin2 GroupMembership bob" "$recorded"
expect_eq "admin2's members after" carol "$(dscl_members)"
fl_mac switch --host mac
expect_eq "member removal again runs nothing" "" "$recorded"

# Dropped from the configuration: bob (502) and admin2 (510) are deleted, alice (501: the first
# admin, and at the console) is not; tilesize goes (Dock restarted), KeyRepeat, changed by
# hand since, stays; autohide and ShowPathbar, still declared, are untouched.
setdef NSGlobalDomain KeyRepeat 6 integer
cat >"$R/flake/mac.nix" <<EOF
{ lib, ... }: {
  networking.hostName = "mac";
  system.defaults = {
    "com.apple.dock".autohide = true;
    "com.apple.finder".ShowPathbar = false;
  };
  launchd.agents.sync = { script = "echo sync"; serviceConfig = { StartInterval = 600; RunAtLoad = true; }; };
}
EOF
fl_mac switch --host mac
echo "$out" >&2; echo "$err" >&2
expect_eq "dropping switch exit" 0 "$rc"
expect_eq "dropping switch: exact commands" "uid=0 dscl . -delete /Users/bob
uid=0 dscl . -delete /Groups/admin2
uid=501 defaults delete com.apple.dock tilesize
uid=501 killall Dock" "$recorded"
expect_contains "alice kept, and why" "user alice is no longer declared but has UniqueID 501 (501 or below" "$out"
expect_contains "KeyRepeat kept, and why" "defaults NSGlobalDomain KeyRepeat: no longer declared but changed since; left in place" "$out"
expect_eq "KeyRepeat still the user's" 6 "$(cat "$R/fake/defaults/NSGlobalDomain/KeyRepeat.value")"
[ -f "$R/fake/dscl/Users/alice" ] || fail "alice's record went"
[ ! -f "$R/fake/dscl/Users/bob" ] || fail "bob's record stayed"
fl_mac switch --host mac
expect_eq "dropping switch again runs nothing" "" "$recorded"

# A bootstrap that fails restores the previous generation (the daemon comes back).
mac false 600 yes
printf '#!/bin/sh\n%s\ncase "$*" in *backup*) [ "$1" = bootstrap ] && exit 5 ;; esac\nexit 0\n' "$rec" >"$R/usr/local/sbin/launchctl"
fl_mac switch --host mac
expect_eq "failed bootstrap exit" 1 "$rc"
expect_contains "names the step" "step 'launchd jobs and defaults'" "$err"
expect_contains "names the command" "launchctl bootstrap exited with status 5" "$err"
[ ! -e "$R/Library/LaunchDaemons/org.flakectl.backup.plist" ] || fail "restore left the failed daemon's plist"

# Homebrew in the plan's JSON: the Brewfile and the `brew bundle` command, as the console user
sed -i 's|^}$|  homebrew = { enable = true; onActivation.cleanup = "zap"; brews = [ "jq" ]; };\n}|' "$R/flake/mac.nix"
fl_mac dry-activate --host mac --json
expect_eq "dry-activate --json with Homebrew exit" 0 "$rc"
top=$(jq -r .to <<<"$out")
expect_eq "JSON: homebrew" "$top/activation/Brewfile zap alice sudo -u alice -H -- /usr/local/bin/brew bundle --file=$top/activation/Brewfile --no-lock --cleanup --zap" \
  "$(jq -r '.homebrew | "\(.brewfile) \(.cleanup) \(.user) \(.command | join(" "))"' <<<"$out")"
brewfile=$R$(readlink "$R$top/activation/Brewfile") # a link into the store, inside the root
grep -qx 'brew "jq"' "$brewfile" || fail "the Brewfile the JSON names lacks jq: $(cat "$brewfile")"
expect_eq "dry-activate --json with Homebrew ran nothing" "" "$recorded"

# The same root without the macOS marker is a Linux machine: a darwin system is refused there
# before anything changes (dry-activate still shows its plan).
rm "$R/System/Library/CoreServices/SystemVersion.plist"
mac true 60 no
fl_mac dry-activate --host mac
expect_eq "dry-activate on Linux exit" 0 "$rc"
expect_contains "dry-activate lists, runs nothing" "not executed: this is not macOS" "$out"
expect_eq "dry-activate ran nothing" "" "$recorded"
fl_mac switch --host mac
expect_eq "darwin on Linux exit" 1 "$rc"
expect_contains "says why" "is a darwin (macOS) system, but this machine is not macOS" "$err"
expect_eq "ran nothing" "" "$recorded"
echo ok
