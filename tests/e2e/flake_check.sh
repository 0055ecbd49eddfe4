# flake_check.sh - `flakectl check` as CI runs it: one broken host among good ones (exit 1,
# a line per host, the broken host's error, --json), and secrets.nix entries without a file.
source "$(dirname "$0")/lib/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"
export FLAKECTL_STATE_DIR="$work/state"

F="$work/flake"
mkdir -p "$F/secrets"
cat >"$F/flake.nix" <<'NIX'
{
  outputs = { self, ... }: {
    hosts = {
      good = { system = "x86_64-linux"; platform = "nixos"; modules = [ ({ ... }: { networking.hostName = "good"; }) ]; };
      broken = { system = "x86_64-linux"; platform = "nixos"; modules = [ ./broken.nix ]; };
      mac = { system = "aarch64-darwin"; platform = "darwin"; modules = [ ]; };
    };
  };
}
NIX
cat >"$F/broken.nix" <<'NIX'
{ ... }: {
  networking.hostName = 42;
}
NIX
run_fl --flake "$F" check --keep-going
expect_eq "check exit with a broken host" 1 "$rc"
expect_contains "good host line" "ok   good" "$out"
expect_contains "mac host line" "ok   mac" "$out"
expect_contains "broken host line" "FAIL broken" "$out"
expect_contains "summary" "3 hosts checked" "$out"
expect_contains "summary counts" "2 passed, 1 failed" "$out"
expect_contains "the broken host's error names the option" "networking.hostName" "$err"
expect_contains "the broken host's error names the file" "broken.nix:2:3" "$err"
expect_not_contains "no secrets line without secrets.nix" "secrets" "$out"

run_fl --flake "$F" check --json
expect_eq "json exit" 1 "$rc"
expect_eq "json failed" 1 "$(jq .failed <<<"$out")"
expect_eq "json passed" 2 "$(jq .passed <<<"$out")"
expect_eq "json broken host" false "$(jq '.hosts[] | select(.host=="broken") | .ok' <<<"$out")"
expect_contains "json broken host file" "broken.nix" "$(jq -r '.hosts[] | select(.host=="broken") | .file' <<<"$out")"
expect_eq "json secrets not checked" false "$(jq .secrets.checked <<<"$out")"

run_fl --flake "$F" check --host good --host mac
expect_eq "check of the good hosts only" 0 "$rc"
expect_contains "two hosts" "2 hosts checked" "$out"

# --- secrets.nix: every listed file must exist
cat >"$F/secrets/secrets.nix" <<'NIX'
let alice = "age1gy23cjrrkv2tq93kgzm42paf4fe7hfc4820qxgwut95vh80ypvtqrukdn8"; in
{
  "present.age".publicKeys = [ alice ];
  "missing.age".publicKeys = [ alice ];
}
NIX
echo "not really encrypted" >"$F/secrets/present.age"
run_fl --flake "$F" check --host good
expect_eq "missing secret fails check" 1 "$rc"
expect_contains "secrets line" "FAIL secrets" "$out"
expect_contains "missing secret named" "secrets/missing.age is listed in secrets/secrets.nix but does not exist" "$err"
expect_not_contains "present secret not reported" "present.age is listed" "$err"
run_fl --flake "$F" check --host good --json
expect_eq "json missing secrets" '["missing.age"]' "$(jq -c .secrets.missing <<<"$out")"
echo "x" >"$F/secrets/missing.age"
run_fl --flake "$F" check --host good
expect_eq "all secrets present" 0 "$rc"
expect_contains "secrets ok line" "ok   secrets" "$out"
echo '{ broken = ' >"$F/secrets/secrets.nix"
run_fl --flake "$F" check --host good
expect_eq "broken secrets.nix" 1 "$rc"
expect_contains "broken secrets.nix located" "secrets.nix" "$err"

# --- the bundled example passes, secrets included (offline: the copy's k3s is a stand-in,
# lib/example.bash)
source "$(dirname "$0")/lib/example.bash"
example_copy "$work/example"
run_fl --flake "$work/example" check
expect_eq "bundled example check ($err)" 0 "$rc"
expect_contains "bundled secrets checked" "ok   secrets" "$out"
expect_contains "bundled summary" "4 passed, 0 failed" "$out"

# --- the CI workflows' check commands are real command lines (run on the bundled example)
for wf in "$FLAKECTL_SRC"/docs/ci/*.yml; do
  cmd=$(grep -m1 -E '^ +run: flakectl ' "$wf" | sed -E 's/^ +run: flakectl //')
  [ -n "$cmd" ] || fail "$wf has no 'run: flakectl' step"
  RUNNER_TEMP="$work/runner" eval "run_fl --flake \"\$work/example\" $cmd"
  expect_eq "$(basename "$wf")'s check step ($err)" 0 "$rc"
  expect_contains "$(basename "$wf")'s check step output" "4 passed, 0 failed" "$out"
done
echo "flake_check: all assertions passed"
