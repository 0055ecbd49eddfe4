#!/usr/bin/env bash
# Units: unit files linked into etc/systemd/system (with .wants links), the plan's rules, and
# under --root nothing executed (a systemctl on PATH records any call). Also `flakectl diff`.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$@" >>"%s/systemctl-calls"\n' "$T" >"$T/bin/systemctl"
printf '#!/bin/sh\necho "$@" >>"%s/useradd-calls"\n' "$T" >"$T/bin/useradd"
chmod +x "$T/bin/systemctl" "$T/bin/useradd"
export PATH="$T/bin:$PATH"
base_etc

mkunits() { # TOP NAME... : unit files with the name in their text
    local top=$1; shift
    for u in "$@"; do printf '[Service]\nExecStart=/usr/bin/%s\n' "$u" >"$top/units/$u.service"; done
}
A=$(mk_top a); mkunits "$A" web db cron old static
write_profile "$A" units="{ $(unit web.service w1 w1), $(unit db.service d1 d1), $(unit cron.service c1 c1 false), $(unit old.service o1 o1), $(unit static.service s1 s1) }" \
    users="{ $(user alice) }"
fl activate "$A" --mode switch >"$T/out1"
expect_contains "$T/out1" "units (not executed: the root is not /)"
expect_contains "$T/out1" "start    web.service  (added to the configuration)"
[ "$(readlink "$ROOT/etc/systemd/system/web.service")" = "$A/units/web.service" ] || fail "unit link"
[ "$(readlink "$ROOT/etc/systemd/system/multi-user.target.wants/web.service")" = ../web.service ] || fail "wants link"

B=$(mk_top b); mkunits "$B" web db cron new static
printf '[Service]\nExecStart=/usr/bin/web --port 8080\n' >"$B/units/web.service"
write_profile "$B" units="{ $(unit web.service w2 w1), $(unit db.service d1 d2), $(unit cron.service c2 c1 false), $(unit new.service n1 n1), $(unit static.service s1 s1) }" \
    users="{ $(user alice) }"
# new.service masked by hand before it is declared: the mask wins, no conflict.
ln -s /dev/null "$ROOT/etc/systemd/system/new.service"
fl activate "$B" --mode switch >"$T/out2"
cat "$T/out2" >&2
expect_contains "$T/out2" "! /etc/systemd/system/new.service: masked by hand (a link to /dev/null); left alone"
[ "$(readlink "$ROOT/etc/systemd/system/new.service")" = /dev/null ] || fail "the mask was replaced"
expect_contains "$T/out2" "stop     old.service  (removed from the configuration)"
expect_contains "$T/out2" "start    new.service  (added to the configuration)"
expect_contains "$T/out2" "restart  web.service  (restartHash changed"
expect_contains "$T/out2" "reload   db.service  (only reloadHash changed"
expect_contains "$T/out2" "keep     cron.service  (restartHash changed, but restartIfChanged = false)"
expect_contains "$T/out2" "daemon-reload  (unit files changed)"
expect_not_contains "$T/out2" "static.service  ("
[ ! -L "$ROOT/etc/systemd/system/old.service" ] || fail "old unit file left"
[ ! -L "$ROOT/etc/systemd/system/multi-user.target.wants/old.service" ] || fail "old wants link left"
[ "$(readlink "$ROOT/etc/systemd/system/web.service")" = "$B/units/web.service" ] || fail "web relinked"
[ ! -e "$T/systemctl-calls" ] || fail "systemctl ran under --root: $(cat "$T/systemctl-calls")"
[ ! -e "$T/useradd-calls" ] || fail "useradd ran under --root"

# flakectl diff between the two toplevels.
C=$(mk_top c); mkunits "$C" web
write_profile "$C" units="{ $(unit web.service w2 w1) }" users="{ $(user alice '"shell": "/bin/zsh"'), $(user bob) }" \
    groups='{ "ops": { "gid": 2000, "members": [] } }' packages="[ \"$(store_file pkg-htop x)\" ]"
printf '[ { "name": "k3s-token", "file": "/s/x.age", "path": "/run/flakectl/secrets/k3s-token" } ]\n' >"$C/secrets.json"
fl diff "$B" "$C" >"$T/diff"
cat "$T/diff" >&2
expect_contains "$T/diff" "~ user alice: shell \"/bin/sh\" -> \"/bin/zsh\""
expect_contains "$T/diff" "+ user bob"
expect_contains "$T/diff" "+ group ops"
expect_contains "$T/diff" "+ k3s-token -> /run/flakectl/secrets/k3s-token"
expect_contains "$T/diff" "+ $STORE/"
expect_contains "$T/diff" "stop     db.service"
expect_contains "$T/diff" "- /etc/systemd/system/db.service"
expect_contains "$T/diff" "closure size: not compared yet"
# With one argument, A is the current generation (B here).
fl diff "$C" >"$T/diff1"
expect_contains "$T/diff1" "diff $B -> $C"
echo ok
