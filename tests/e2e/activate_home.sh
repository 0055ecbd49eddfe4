#!/usr/bin/env bash
# Home files: never following a symlink out of a home (or out of the root), and `copy = true`
# files that an app may rewrite: copied once, re-copied only when the declared content changes,
# the app's edits reported by dry-activate.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
base_etc
bashrc=$(store_file bashrc 'export EDITOR=vi
')
s1=$(store_file settings.json '{ "editor.fontSize": 12 }
')
s2=$(store_file settings.json '{ "editor.fontSize": 14 }
')
tool=$(store_file tool '#!/bin/sh
echo tool
')
m=$(store_file motd 'hi
')
homefiles() { # SETTINGS -> the home attrset
    printf '{ "alice": { "home": "/home/alice", "files": { ".bashrc": { "source": "%s", "executable": false, "copy": false }, ".config/Code/User/settings.json": { "source": "%s", "executable": false, "copy": true }, "bin/tool": { "source": "%s", "executable": true, "copy": true } } } }' "$bashrc" "$1" "$tool"
}
A=$(mk_top a); write_profile "$A" users="{ $(user alice) }" home="$(homefiles "$s1")"

# 1. The home directory itself is a symlink to somewhere else: refused, nothing written there.
mkdir -p "$T/elsewhere" "$ROOT/home"
ln -s "$T/elsewhere" "$ROOT/home/alice"
if fl activate "$A" --mode switch >/dev/null 2>"$T/err1"; then fail "followed a symlinked home"; fi
expect_contains "$T/err1" "/home/alice/.bashrc: /home/alice is a symlink; flakectl never follows symlinks"
expect_contains "$T/err1" "out of the home"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "wrote through the symlinked home"
# ... and --backup-ext does not make it acceptable.
if fl activate "$A" --mode switch --backup-ext bak >/dev/null 2>&1; then fail "--backup-ext resolved a symlink escape"; fi
[ -L "$ROOT/home/alice" ] && [ -z "$(ls -A "$T/elsewhere")" ] || fail "escape changed things"
rm "$ROOT/home/alice"

# 2. A directory inside the home is a symlink out of it: refused the same way.
mkdir -p "$ROOT/home/alice"
ln -s "$T/elsewhere" "$ROOT/home/alice/.config"
if fl activate "$A" --mode switch >/dev/null 2>"$T/err2"; then fail "followed ~/.config out of the home"; fi
expect_contains "$T/err2" "/home/alice/.config is a symlink"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "wrote through ~/.config"
rm "$ROOT/home/alice/.config"

# 3. /etc/ssh pointing out of the root (an absolute link would resolve on the real system).
E=$(mk_top e); link_etc "$E" ssh/ssh_config "$m"
write_profile "$E" etc="{ $(etc_link ssh/ssh_config "$m") }"
ln -s "$T/elsewhere" "$ROOT/etc/ssh"
if fl activate "$E" --mode switch >/dev/null 2>"$T/err3"; then fail "followed /etc/ssh out of the root"; fi
expect_contains "$T/err3" "/etc/ssh is a symlink"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "wrote through /etc/ssh"
rm "$ROOT/etc/ssh"

# 4. copy = true: a real file, owned by alice, executable when declared so.
fl activate "$A" --mode switch >/dev/null
f=$ROOT/home/alice/.config/Code/User/settings.json
[ -f "$f" ] && [ ! -L "$f" ] || fail "settings.json should be a copy"
cmp -s "$f" "$s1" || fail "settings.json content"
[ "$(stat -c '%u %a' "$f")" = "1000 644" ] || fail "settings.json owner/mode"
[ "$(stat -c '%a' "$ROOT/home/alice/bin/tool")" = 755 ] || fail "executable copy"
[ "$(readlink "$ROOT/home/alice/.bashrc")" = "$bashrc" ] || fail ".bashrc link"

# The app rewrites its settings. A new generation with the same declared content keeps them,
# and dry-activate says so, with the diff.
echo '{ "editor.fontSize": 12, "workbench.colorTheme": "Dark" }' >"$f"
B=$(mk_top b); link_etc "$B" motd "$m"
write_profile "$B" users="{ $(user alice) }" home="$(homefiles "$s1")" etc="{ $(etc_link motd "$m") }"
fl activate "$B" --mode dry-activate >"$T/plan"
expect_contains "$T/plan" "! /home/alice/.config/Code/User/settings.json: edited since flakectl copied it; kept"
expect_contains "$T/plan" '+{ "editor.fontSize": 12, "workbench.colorTheme": "Dark" }'
fl activate "$B" --mode switch >/dev/null
grep -q colorTheme "$f" || fail "the app's edits were overwritten although the declared content did not change"

# The declared content changes: re-copied (and the plan says the edits are replaced).
C=$(mk_top c); write_profile "$C" users="{ $(user alice) }" home="$(homefiles "$s2")"
fl activate "$C" --mode dry-activate >"$T/plan2"
expect_contains "$T/plan2" "~ /home/alice/.config/Code/User/settings.json (copied) (edited on disk since flakectl wrote it; replaced)"
fl activate "$C" --mode switch >/dev/null
cmp -s "$f" "$s2" || fail "settings.json not re-copied after the declared content changed"

# Stale home files go when undeclared (links and unedited copies), directories left empty too.
D=$(mk_top d); write_profile "$D" users="{ $(user alice) }" home='{}'
fl activate "$D" --mode switch >/dev/null
[ ! -e "$ROOT/home/alice/.bashrc" ] && [ ! -L "$ROOT/home/alice/.bashrc" ] || fail ".bashrc not removed"
[ ! -e "$f" ] || fail "settings.json not removed"
[ ! -e "$ROOT/home/alice/.config" ] || fail "empty ~/.config left behind"
[ -d "$ROOT/home/alice" ] || fail "the home itself must stay"
echo ok
