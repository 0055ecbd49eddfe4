#!/usr/bin/env bash
# age.templates at activation: the store holds the template with placeholders only; the
# rendered file (secrets.d/<N>/rendered/<n>) has the plaintext, its declared mode and owner;
# a changed secret re-renders it and restarts the template's units; a template using a
# secret nobody can decrypt stops the switch. Also through the module system: the bundled
# options render a template from a flake.
source "$FLAKECTL_SRC/tests/e2e/lib/activate-fixtures.bash"
export XDG_CACHE_HOME=$T/cache
base_etc
mkdir -p "$ROOT/etc/ssh"
"$FLAKECTL" secret keygen -o "$ROOT/etc/ssh/ssh_host_ed25519_key" 2>/dev/null
hostpub=$("$FLAKECTL" secret keygen -y "$ROOT/etc/ssh/ssh_host_ed25519_key")
P1="tok-$RANDOM$RANDOM"; P2="tok-$RANDOM$RANDOM"
enc() {
    local p=$STORE/$(printf '%s' "$1$2$RANDOM" | sha256sum | cut -c1-32)-$1.age
    printf '%s' "$2" | "$FLAKECTL" secret encrypt -r "${3:-$hostpub}" -o "$p"
    echo "$p"
}
tmpl=$(store_file secret-template-app.env 'TOKEN=<flakectl-age:token>
OTHER=<flakectl-age:nosuch>
')
# top NAME AGEFILE: a toplevel with secret token and template app.env using it.
top() {
    local d
    d=$(mk_top "$1")
    write_profile "$d"
    sed -i "s|\"warnings\": \[\]|\"secretTemplates\": [ { \"name\": \"app.env\", \"source\": \"$tmpl\", \"path\": \"/etc/app/app.env\", \"owner\": \"root\", \"group\": \"users\", \"mode\": \"0440\", \"restartUnits\": [\"app.service\"], \"reloadUnits\": [] } ], \"warnings\": []|" "$d/profile.json"
    echo "[ { \"name\": \"token\", \"file\": \"$2\", \"path\": \"/run/flakectl/secrets/token\", \"owner\": \"root\", \"group\": \"root\", \"mode\": \"0400\", \"restartUnits\": [], \"reloadUnits\": [] } ]" >"$d/secrets.json"
    echo "$d"
}
A=$(top a "$(enc token "$P1")")
fl activate "$A" --mode switch >"$T/out1" 2>&1 || { cat "$T/out1"; fail "switch A"; }
r=$ROOT/run/flakectl/secrets/rendered/app.env
[ "$(cat "$r")" = "TOKEN=$P1
OTHER=<flakectl-age:nosuch>" ] || fail "rendered: $(cat "$r")"
[ "$(stat -c '%a %g' "$r")" = "440 100" ] || fail "rendered mode/group: $(stat -c '%a %g' "$r")"
[ "$(readlink "$ROOT/etc/app/app.env")" = /run/flakectl/secrets/rendered/app.env ] || fail "template path link"
grep -qF '<flakectl-age:token>' "$tmpl" || fail "store template lost its placeholder"
! grep -rqF "$P1" "$STATE" "$STORE" "$T/tops" "$T/out1" || fail "plaintext outside the secrets dir"

B=$(top b "$(enc token "$P2")")
fl activate "$B" --mode dry-activate >"$T/plan" 2>&1 || { cat "$T/plan"; fail "dry B"; }
expect_contains "$T/plan" "~ template app.env -> /etc/app/app.env (content changed)"
expect_contains "$T/plan" "restart  app.service  (template app.env changed)"
fl activate "$B" --mode switch >/dev/null 2>&1 || fail "switch B"
[ "$(head -n1 "$r")" = "TOKEN=$P2" ] || fail "re-rendered: $(cat "$r")"

# The template's secret cannot be decrypted: nothing changes.
C=$(top c "$(enc token "$P1" "$("$FLAKECTL" secret keygen 2>/dev/null | grep -o 'age1[a-z0-9]*' | head -n1)")")
before=$(snapshot "$ROOT" "$STATE")
! fl activate "$C" --mode switch >"$T/out3" 2>&1 || fail "switch C succeeded"
expect_contains "$T/out3" "template \"app.env\""
[ "$before" = "$(snapshot "$ROOT" "$STATE")" ] || fail "failed switch changed something"

# Through the bundled modules: a flake host with a secret and a template.
F=$T/flake; mkdir -p "$F/secrets"
enc_flake=$F/secrets/db.age
printf '%s' "$P1" | "$FLAKECTL" secret encrypt -r "$hostpub" -o "$enc_flake"
cat >"$F/flake.nix" <<'NIX'
{
  outputs = { self, ... }: {
    hosts.h1 = {
      system = "x86_64-linux";
      platform = "nixos";
      modules = [ ({ config, ... }: {
        networking.hostName = "h1";
        age.secrets.db.file = ./secrets/db.age;
        age.templates."db.conf".content = "password = ${config.age.placeholder.db}\n";
      }) ];
    };
  };
}
NIX
R2=$T/r2; S2=$T/s2; mkdir -p "$R2/etc/ssh"
cp "$ROOT/etc/ssh/ssh_host_ed25519_key" "$R2/etc/ssh/"
"$FLAKECTL" --root "$R2" --state-dir "$S2" --flake "$F" switch --host h1 >"$T/out4" 2>&1 || { cat "$T/out4"; fail "flake switch"; }
[ "$(cat "$R2/run/flakectl/secrets/rendered/db.conf")" = "password = $P1" ] || fail "flake template: $(cat "$R2/run/flakectl/secrets/rendered/db.conf")"
! grep -rqF "$P1" "$S2" || fail "plaintext in the flake's state dir"
grep -rqF '<flakectl-age:db>' "$S2/store" || fail "template with placeholder not in the store"
echo ok
