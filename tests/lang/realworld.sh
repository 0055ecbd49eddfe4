#!/usr/bin/env bash
# realworld.sh [CHECKOUT] - nixpkgs' lib (nix-community/nixpkgs.lib, 22.05 era, e.g. 6ab9f3e2)
# evaluated by flakectl beside nix-instantiate 2.8, with its own tests: every lib/tests/*.nix
# file (--eval --strict), and every nix-instantiate invocation of lib/tests/modules.sh (the
# script runs with a nix-instantiate on PATH that runs both tools and compares them, then
# answers with Nix's result so the script's own checks go on as usual).
# Compared: exit status, stdout, and stderr byte for byte (modules.sh evaluates with
# --show-trace, so Nix's trace layout too; a located throw/abort is flakectl's deliberate
# difference, docs/language.md "Errors", and is taken out first).
# The checkout comes from CHECKOUT or $NIXPKGS_LIB_CHECKOUT; without one (CI cannot reach
# GitHub) this exits 77 saying so. It is copied to a scratch directory first, where a
# default.nix of our own stands in for nixpkgs' top level (misc.nix imports ../.. for a
# package named hello): the same file for both tools.
# Exit status: 0 all agree, 1 a difference, 77 no checkout or no nix-instantiate.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
oracle="$here/../lib/nix-oracle"
flakectl=${FLAKECTL:-$here/../../build/flakectl}
checkout=${1:-${NIXPKGS_LIB_CHECKOUT:-}}
if [ -z "$checkout" ]; then
    echo "SKIP: no nixpkgs.lib checkout: set NIXPKGS_LIB_CHECKOUT (or give its path) to a" \
        "checkout of nix-community/nixpkgs.lib (e.g. at 6ab9f3e2)"
    exit 77
fi
if [ ! -f "$checkout/lib/default.nix" ]; then
    echo "SKIP: $checkout has no lib/default.nix: not a nixpkgs.lib checkout"
    exit 77
fi
if ! command -v nix-instantiate >/dev/null 2>&1; then
    echo "SKIP: nix-instantiate (Debian package nix-bin) is not installed"
    exit 77
fi
flakectl=$(cd "$(dirname "$flakectl")" && pwd)/$(basename "$flakectl")

work=$(mktemp -d "${TMPDIR:-/tmp}/realworld.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$checkout/lib" "$work/lib"
cat >"$work/default.nix" <<'NIX'
# stands in for nixpkgs' top level in lib/tests/misc.nix (realworld.sh)
{ system ? null, ... }: { hello = "/nix/store/00000000000000000000000000000000-hello-2.12"; }
NIX

# flakectl's stderr with the location block of an error Nix leaves unlocated taken out
normalize() { # NIX_ERR FL_ERR
    python3 - "$1" "$2" "$here" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from trace_differential import unlocate_like
w, g = open(sys.argv[1]).read(), open(sys.argv[2]).read()
text, taken = unlocate_like(w, g)
if taken:
    open(sys.argv[2], "w").write(text)
PY
}
log=$work/differences
: >"$log"
compare() { # NAME, then the files nix.out nix.err nix.rc fl.out fl.err fl.rc in $1.*
    local name=$1 p=$2
    normalize "$p.nix.err" "$p.fl.err"
    if cmp -s "$p.nix.out" "$p.fl.out" && cmp -s "$p.nix.err" "$p.fl.err" &&
        [ "$(cat "$p.nix.rc")" = "$(cat "$p.fl.rc")" ]; then
        echo "ok $name" >>"$work/agree"
    else
        {
            echo "DIFF $name"
            echo "--- nix-instantiate (status $(cat "$p.nix.rc"))"
            head -c 3000 "$p.nix.out"
            head -c 3000 "$p.nix.err"
            echo "--- flakectl (status $(cat "$p.fl.rc"))"
            head -c 3000 "$p.fl.out"
            head -c 3000 "$p.fl.err"
        } >>"$log"
    fi
}

# ---- lib/tests/*.nix ----
n=0
for t in "$work"/lib/tests/*.nix; do
    n=$((n + 1))
    p=$work/t$n
    (cd "$(dirname "$t")" && timeout 600 "$oracle" nix-instantiate --eval --strict "$t" \
        >"$p.nix.out" 2>"$p.nix.err"; echo $? >"$p.nix.rc")
    (cd "$(dirname "$t")" && timeout 600 "$flakectl" eval --strict --file "$t" \
        >"$p.fl.out" 2>"$p.fl.err"; echo $? >"$p.fl.rc")
    compare "lib/tests/$(basename "$t")" "$p"
done

# ---- lib/tests/modules.sh: a nix-instantiate that runs both ----
mkdir -p "$work/bin"
cat >"$work/bin/nix-instantiate" <<SH
#!/usr/bin/env bash
# modules.sh calls: --timeout 1 -E SCRIPT -A ATTR --eval-only --show-trace --read-write-mode
script= attr=
while [ \$# -gt 0 ]; do
    case \$1 in
    -E) script=\$2; shift ;;
    -A) attr=\$2; shift ;;
    esac
    shift
done
k=\$(ls "$work"/m*.nix.rc 2>/dev/null | wc -l)
p="$work/m\$k"
PATH="$PATH" timeout 600 "$oracle" nix-instantiate --eval --show-trace -E "\$script" -A "\$attr" \
    >"\$p.nix.out" 2>"\$p.nix.err"
echo \$? >"\$p.nix.rc"
timeout 600 "$flakectl" eval --show-trace --expr "\$script" -A "\$attr" >"\$p.fl.out" 2>"\$p.fl.err"
echo \$? >"\$p.fl.rc"
printf '%s\n' "-A \$attr -E \$script" >"\$p.what"
cat "\$p.nix.out"
cat "\$p.nix.err" >&2
exit "\$(cat "\$p.nix.rc")"
SH
chmod +x "$work/bin/nix-instantiate"
PATH="$work/bin:$PATH" bash "$work/lib/tests/modules.sh" >"$work/modules.log" 2>&1
echo "modules.sh (its own checks, on Nix's answers): $(tail -n 3 "$work/modules.log" | tr '\n' ' ')"
for rc in "$work"/m*.nix.rc; do
    [ -e "$rc" ] || continue
    p=${rc%.nix.rc}
    compare "modules.sh $(cat "$p.what")" "$p"
done

agree=$(wc -l <"$work/agree" 2>/dev/null || echo 0)
differ=$(grep -c '^DIFF' "$log")
cat "$log"
echo "$agree evaluations agree, $differ differ"
[ "$differ" -eq 0 ] && [ "$agree" -gt 0 ]
