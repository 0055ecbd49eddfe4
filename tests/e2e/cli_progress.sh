#!/usr/bin/env bash
# cli_progress.sh - progress of long work, as a user sees it: on a terminal (a real pty) one
# line redrawn in place (what, how many of how many, bytes, rate) and a closing line; in a
# pipe plain lines, one per step; --quiet leaves the errors and the result only; -v shows
# each step on a terminal too. For builds and for pushes to a cache.
source "$FLAKECTL_SRC/tests/e2e/lib/cli-test.bash"
cat >"$T/f/host.nix" <<'NIX'
{ pkgs, lib, ... }: {
  environment.systemPackages = map (i: pkgs.runCommand "tool-${toString i}" {} ''
    sleep 0.2; mkdir -p $out/bin; echo echo ${toString i} > $out/bin/tool-${toString i}
  '') (lib.range 1 4);
}
NIX
fresh() { rm -rf "$T/state"; }

# a pipe: a plain line per build, a closing line, no escape codes or carriage returns
fresh
"$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/out" 2>"$T/err" || fail "build in a pipe"
for i in 1 2 3 4; do
    grep -q "^building: $T/state/store/[a-z0-9]\{32\}-tool-$i$" "$T/err" || fail "no plain line for tool-$i: $(cat "$T/err")"
done
grep -q "^built 6 paths in [0-9.]* s$" "$T/err" || fail "no closing line in a pipe: $(cat "$T/err")"
grep -q "[$ESC$CR]" "$T/err" && fail "escape codes or CR in a pipe: $(cat -v "$T/err")"
[ "$(cat "$T/out")" = "$(ls -d "$T"/state/store/*-flakectl-system-h)" ] || fail "stdout is not the toplevel alone"
# nothing to build: nothing to say
"$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link >/dev/null 2>"$T/err2"
[ ! -s "$T/err2" ] || fail "a build with nothing to do printed: $(cat "$T/err2")"

# a terminal: one line redrawn in place, what and how many; then the closing line
fresh
$PTY "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/tty"
grep -q "${CR}${ESC}\[Kbuilding: 2 paths done  tool-3" "$T/tty" || fail "no updating line on a terminal: $(cat -v "$T/tty")"
grep -q "${CR}${ESC}\[Kbuilt 6 paths in [0-9.]* s$" "$T/tty" || fail "the updating line is not cleared before the closing line: $(cat -v "$T/tty")"
grep -q "^building: /" "$T/tty" && fail "plain per-step lines on a terminal without -v"
# a narrow terminal: the line is cut to fit, never wrapped (a wrapped line cannot be redrawn)
fresh
PTY_COLUMNS=40 $PTY "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/narrow"
longest=$(tr '\r' '\n' <"$T/narrow" | sed "s/$ESC\[K//g" | grep '^building:' | awk '{ if (length > m) m = length } END { print m + 0 }')
[ "$longest" -gt 0 ] && [ "$longest" -le 39 ] || fail "updating line of $longest columns on a 40-column terminal: $(cat -v "$T/narrow")"
# -v: each step on its own line as well
fresh
$PTY "$FLAKECTL" -v --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/ttyv"
[ "$(grep -c "building: $T/state/store/.*-tool-" "$T/ttyv")" = 4 ] || fail "-v on a terminal: $(cat -v "$T/ttyv")"
# --quiet: the result only, on a terminal and in a pipe
fresh
$PTY "$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" build --host h --no-link >"$T/ttyq"
[ "$(tr -d '\r' <"$T/ttyq")" = "$(ls -d "$T"/state/store/*-flakectl-system-h)" ] || fail "--quiet on a terminal printed more than the result: $(cat -v "$T/ttyq")"
fresh
"$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" build --host h --no-link >/dev/null 2>"$T/errq"
[ ! -s "$T/errq" ] || fail "--quiet in a pipe printed: $(cat "$T/errq")"
# switch --quiet: the result line only (no plan, no "built", no progress)
mkdir -p "$T/root"
"$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" --root "$T/root" switch --host h >"$T/swq" 2>"$T/swqe" || fail "switch --quiet: $(cat "$T/swqe")"
[ "$(cat "$T/swq")" = "$(ls -d "$T"/state/store/*-flakectl-system-h) is active" ] || fail "switch --quiet printed: $(cat "$T/swq")"
[ ! -s "$T/swqe" ] || fail "switch --quiet wrote to stderr: $(cat "$T/swqe")"
[ -L "$T/root/etc/static" ] || fail "switch --quiet did not activate"
# errors still come with --quiet
echo '{ ... }: { environment.etc.x.text = 1 + "a"; }' >"$T/f/bad.nix"
sed 's|./host.nix|./bad.nix|' "$T/f/flake.nix" >"$T/f/flake.nix.new" && mv "$T/f/flake.nix.new" "$T/f/flake.nix"
"$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" build --host h --no-link >/dev/null 2>"$T/errbad"
grep -q "^error: " "$T/errbad" || fail "--quiet hid an error"
sed 's|./bad.nix|./host.nix|' "$T/f/flake.nix" >"$T/f/flake.nix.new" && mv "$T/f/flake.nix.new" "$T/f/flake.nix"

# pushing to a cache: how many of how many and the bytes, with the rate
"$FLAKECTL" --flake "$T/f" --state-dir "$T/state" cache push --to "file://$T/c1" --host h >/dev/null 2>"$T/push"
grep -q "^pushing to file://$T/c1: \[1/8\] $T/state/store/.* ([0-9.]* [KM]\?i\?B)$" "$T/push" || fail "push in a pipe: $(cat "$T/push")"
grep -q "^pushing to file://$T/c1: \[8/8\] " "$T/push" || fail "push: not every path counted"
grep -q "[$ESC$CR]" "$T/push" && fail "escape codes in a push to a pipe"
$PTY "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" cache push --to "file://$T/c2" --host h >"$T/pushtty"
grep -q "${CR}${ESC}\[Kpushing to file://$T/c2: 8/8 paths, [0-9.]* KiB of [0-9.]* KiB, [0-9.]* [KM]\?i\?B/s" "$T/pushtty" || fail "push on a terminal: $(cat -v "$T/pushtty")"
grep -q "8 paths pushed" "$T/pushtty" || fail "push result"
$PTY "$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" cache push --to "file://$T/c3" --host h >"$T/pushq"
[ ! -s "$T/pushq" ] || fail "--quiet push printed: $(cat -v "$T/pushq")"

# substituting from a cache (store realise; builds substitute through the same reporter): in a
# pipe the step per path and a closing line, on a terminal the updating line with the bytes
pub=$("$FLAKECTL" --quiet cache keygen t-1 -o "$T/k.sec")
"$FLAKECTL" --quiet --flake "$T/f" --state-dir "$T/state" cache push --to "file://$T/c4" --key "$T/k.sec" --host h >/dev/null 2>&1 || fail "signed push"
top=$(ls -d "$T"/state/store/*-flakectl-system-h)
subst() { "$FLAKECTL" --state-dir "$T/state" store realise --substituters "file://$T/c4" --trusted-public-key "$pub" "$top"; }
fresh
subst >"$T/rout" 2>"$T/rerr" || fail "realise: $(cat "$T/rerr")"
grep -q "^copying path '$top' from 'file://$T/c4'...$" "$T/rerr" || fail "realise in a pipe, the step: $(cat "$T/rerr")"
grep -q "^substituting: \[8\] $T/state/store/.* ([0-9.]* [KM]\?i\?B)$" "$T/rerr" || fail "realise in a pipe, the count: $(cat "$T/rerr")"
grep -q "^substituted 8 paths, [0-9.]* KiB in [0-9.]* s$" "$T/rerr" || fail "realise in a pipe, the result: $(cat "$T/rerr")"
grep -q "[$ESC$CR]" "$T/rerr" && fail "escape codes in a realise to a pipe"
fresh
$PTY bash -c "$(declare -f subst); T='$T' pub='$pub' top='$top' FLAKECTL='$FLAKECTL'; subst" >"$T/rtty"
grep -q "${CR}${ESC}\[Ksubstituting: [0-9] paths done, [0-9.]* KiB, [0-9.]* [KM]\?i\?B/s" "$T/rtty" || fail "realise on a terminal: $(cat -v "$T/rtty")"
grep -q "${CR}${ESC}\[Ksubstituted 8 paths, [0-9.]* KiB in" "$T/rtty" || fail "realise result on a terminal: $(cat -v "$T/rtty")"
grep -q "^copying path" "$T/rtty" && fail "per-path lines of a realise on a terminal without -v"
fresh
"$FLAKECTL" --quiet --state-dir "$T/state" store realise --substituters "file://$T/c4" --trusted-public-key "$pub" "$top" >/dev/null 2>"$T/rq" || fail "quiet realise"
[ ! -s "$T/rq" ] || fail "--quiet realise printed: $(cat "$T/rq")"

# a build that substitutes part of its closure: the substituted paths are counted as such,
# not as built (the four tools come from the cache, a fifth and what holds them are built)
sed -i 's/lib.range 1 4/lib.range 1 5/' "$T/f/host.nix"
bsubst() { "$FLAKECTL" --flake "$T/f" --state-dir "$T/state" build --host h --no-link --substituters "file://$T/c4" --trusted-public-key "$pub"; }
fresh
bsubst >/dev/null 2>"$T/berr" || fail "build with a cache: $(cat "$T/berr")"
grep -q "^built 3 paths, substituted 4 paths, [0-9.]* KiB in [0-9.]* s$" "$T/berr" || fail "build with a cache, the closing line: $(cat "$T/berr")"
[ "$(grep -c "^copying path '.*-tool-[1-4]' from 'file://$T/c4'...$" "$T/berr")" = 4 ] || fail "build with a cache: not 4 paths substituted: $(cat "$T/berr")"
fresh
$PTY bash -c "$(declare -f bsubst); T='$T' pub='$pub' FLAKECTL='$FLAKECTL'; bsubst" >"$T/btty"
grep -q "${CR}${ESC}\[Kbuilding: 0 built, 1 substituted, " "$T/btty" || fail "build with a cache on a terminal: $(cat -v "$T/btty")"
grep -q "${CR}${ESC}\[Kbuilt 3 paths, substituted 4 paths, [0-9.]* KiB in" "$T/btty" || fail "build with a cache on a terminal, the closing line: $(cat -v "$T/btty")"
sed -i 's/lib.range 1 5/lib.range 1 4/' "$T/f/host.nix"

finish cli_progress
