#!/usr/bin/env bash
# security_accounts.sh - passwd/shadow/group injection (issue 20, finding 3). Every account
# field that reaches /etc/passwd, /etc/shadow or /etc/group gets a ':' and a newline (and the
# names and ids what shadow-utils refuses); each must be a located evaluation error naming
# the user's file:line:col, and nothing must be built. Then the same through a hand-made
# toplevel, which activation refuses before writing anything. Also /etc names with a NUL or
# invalid UTF-8, which used to reach /etc as a truncated or unreadable name.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
F=$T/flake
mkdir -p "$F"
source "$FLAKECTL_SRC/tests/e2e/lib/host-flake.bash"
host_flake "$F"
export XDG_CACHE_HOME=$T/cache

# attempt LINE: host.nix whose line 3 is LINE; the build must fail at host.nix:3.
n=0
attempt() {
    n=$((n + 1))
    printf '{ ... }: {\n  networking.hostName = "h";\n%s\n}\n' "$1" >"$F/host.nix"
    if fl --flake "$F" build --host h --no-link >"$T/out" 2>"$T/err"; then
        fail "case $n accepted: $1 (built $(cat "$T/out"))"
    fi
    grep -qE -- "at $F/host.nix:3:[0-9]+:" "$T/err" ||
        { cat "$T/err" >&2; fail "case $n: the error does not name host.nix:3:COL: $1"; }
    if grep -qE "^(error: )?internal|Aborted|Segmentation" "$T/err"; then
        cat "$T/err" >&2
        fail "case $n: not a clean error"
    fi
}

inj='x:\nroot3::0:0::/:/bin/sh'
# Every string field of a user, with an injected line.
for field in description home shell hashedPassword; do
    attempt "  users.users.alice = { isNormalUser = true; $field = \"$inj\"; };"
    attempt "  users.users.alice = { isNormalUser = true; $field = \"a:b\"; };"
done
attempt "  users.users.alice = { isNormalUser = true; group = \"users\\nroot3::0:\"; };"
attempt "  users.users.alice = { isNormalUser = true; extraGroups = [ \"wheel:x:0:alice\" ]; };"
attempt "  users.users.alice = { isNormalUser = true; openssh.authorizedKeys.keys = [ \"ssh-ed25519 AAAA a\\ncommand=\\\"sh\\\" ssh-ed25519 BBBB b\" ]; };"
attempt "  users.users.alice = { isNormalUser = true; name = \"root3::0:0::/:/bin/sh\"; };"
attempt "  users.groups.staff = { members = [ \"alice\\nroot3:x:0:\" ]; };"
attempt "  users.groups.staff = { name = \"staff:x:0:\"; };"
# Names by their attribute: what useradd's NAME_REGEX refuses.
for name in 'root3::0:0::/:/bin/sh' 'a\nb' '' '-x' '+' 'Alice' '1abc' 'a b' 'thirtythreecharacterslongusername'; do
    attempt "  users.users.\"$name\".isNormalUser = true;"
    attempt "  users.groups.\"$name\" = { };"
done
# Ids that mean "no id" to shadow-utils, and ones outside uid_t.
for id in 4294967295 65535 -1 4294967296; do
    attempt "  users.users.alice = { isNormalUser = true; uid = $id; };"
    attempt "  users.groups.staff.gid = $id;"
done
# /etc names: a NUL and invalid UTF-8. fromJSON was the one way to put a NUL into a string;
# it now ends a string at \u0000 as Nix 2.8 does, so the name is "a" for Nix and flakectl
# alike and nothing after the NUL can reach a path (the attribute-set constructors still
# refuse a NUL if one ever gets there).
got=$(fl eval --expr 'builtins.fromJSON "\"a\\u0000/../../x\""' 2>&1)
[ "$got" = '"a"' ] || fail "fromJSON keeps what follows \\u0000: $got"
printf '{ ... }: {\n  networking.hostName = "h";\n  environment.etc."bad\xffname".text = "x";\n}\n' >"$F/host.nix"
fl --flake "$F" build --host h --no-link >/dev/null 2>"$T/err" && fail "invalid UTF-8 /etc name accepted"
grep -q "at $F/host.nix:3:" "$T/err" || { cat "$T/err" >&2; fail "invalid UTF-8: no location"; }
printf '{ ... }: {\n  networking.hostName = "h";\n  environment.etc.ok = { target = "t\xc0\xafx"; text = "x"; };\n}\n' >"$F/host.nix"
fl --flake "$F" build --host h --no-link >/dev/null 2>"$T/err" && fail "overlong UTF-8 target accepted"
grep -q "at $F/host.nix:3:" "$T/err" || { cat "$T/err" >&2; fail "overlong UTF-8: no location"; }

# What shadow-utils accepts still builds (a system name with a final $, ids at the edges).
printf '{ ... }: {\n  networking.hostName = "h";\n  users.users."_svc-1$" = { uid = 4294967294; description = "Svc, room 1"; };\n  users.groups.big.gid = 65534;\n}\n' >"$F/host.nix"
fl --flake "$F" build --host h --no-link >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "valid accounts refused"; }

# Defence in depth: a toplevel made by hand (no module types ran) is refused by activation
# before anything is written.
mkdir -p "$ROOT/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nusers:x:100:\n' >"$ROOT/etc/group"
printf 'root:*:19000::::::\n' >"$ROOT/etc/shadow"
for bad in '"shell": "/bin/sh\nroot3::0:0::/:/bin/sh"' '"description": "a:b"' '"home": "/h:x"' \
    '"hashedPassword": "x\nroot3::1::::::"' '"uid": 4294967295' '"extraGroups": ["wheel:x:0:"]'; do
    A=$(mk_top "bad$RANDOM")
    write_profile "$A" users="{ $(user alice "$bad") }"
    before=$(snapshot "$ROOT" "$STATE")
    if fl activate "$A" --mode switch >"$T/out" 2>"$T/err"; then fail "activation wrote $bad"; fi
    expect_contains "$T/err" "user 'alice':"
    [ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "a refused account changed the root ($bad)"
done
A=$(mk_top badname)
write_profile "$A" users='{ "x:0:0::/:/bin/sh\nroot3": { "uid": null, "group": "users", "extraGroups": [], "home": "/h", "createHome": false, "shell": null, "description": "", "isNormalUser": true, "isSystemUser": false, "hashedPassword": null, "authorizedKeys": [] } }'
if fl activate "$A" --mode switch >/dev/null 2>"$T/err"; then fail "activation wrote a bad name"; fi
expect_contains "$T/err" "is not a valid account name"
grep -q root3 "$ROOT/etc/passwd" && fail "root3 reached passwd"
echo "ok: $n located refusals"
