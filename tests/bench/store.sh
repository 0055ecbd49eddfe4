#!/usr/bin/env bash
# Store benchmark: flakectl against Nix's own tools on the same inputs.
#   - NAR serialization: `flakectl store dump` vs `nix-store --dump`
#   - NAR hashing:       `flakectl store hash` vs `nix-hash --type sha256`
#                        (and `openssl dgst -sha256` over the same bytes: the hashing limit)
#   - adding:            `flakectl store add` vs `nix-store --add` (a local chroot store)
# on a tree of a few thousand small files and on one 200 MiB file. Prints wall times (best of
# N runs, ms) and the ratio peer/flakectl (>1 means flakectl is faster). Never fails on timing.
# usage: tests/bench/store.sh [path/to/flakectl]   (default: build/flakectl)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${1:-${FLAKECTL:-$src/build/flakectl}}
RUNS=${RUNS:-3}
FILES=${FILES:-3000}
BIG_MIB=${BIG_MIB:-200}
oracle=$src/tests/lib/nix-oracle
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "generating $FILES files and a $BIG_MIB MiB file in $work ..."
mkdir -p "$work/tree"
for d in $(seq 0 29); do mkdir -p "$work/tree/d$d/sub"; done
RANDOM=1
for i in $(seq 0 $((FILES - 1))); do
    # 1 byte to 8 KiB each
    head -c $((RANDOM % 8192 + 1)) /dev/urandom > "$work/tree/d$((i % 30))/sub/f$i"
done
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom > "$work/big.bin"
tree_bytes=$(du -sb "$work/tree" | cut -f1)

best_ms() { # best wall time of RUNS runs of "$@", output discarded
    local best=999999999 s e ms
    for _ in $(seq 1 "$RUNS"); do
        s=$(date +%s%N)
        "$@" > /dev/null
        e=$(date +%s%N)
        ms=$(((e - s) / 1000000))
        [ "$ms" -lt "$best" ] && best=$ms
    done
    echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
row() { # label ours peer peername
    printf "%-34s flakectl %7d ms   %-22s %7d ms   ratio %s\n" "$1" "$2" "$4" "$3" "$(ratio "$3" "$2")"
}
add_ours() { rm -rf "$work/state"; "$FLAKECTL" --state-dir "$work/state" store add "$1"; }
add_nix() { chmod -R u+w "$work/nixroot" 2>/dev/null || true; rm -rf "$work/nixroot"
            "$oracle" --exec nix-store --store "$work/nixroot" --add "$1"; }
sha_all() { # the bytes alone, no serialization: the hashing limit
    if [ -f "$1" ]; then openssl dgst -sha256 "$1"
    else find "$1" -type f -print0 | xargs -0 cat | openssl dgst -sha256; fi
}

# Sanity: the outputs being timed agree.
cmp <("$FLAKECTL" store dump "$work/tree") <("$oracle" nix-store --dump "$work/tree")
[ "$("$FLAKECTL" store hash "$work/big.bin")" = "$("$oracle" nix-hash --type sha256 "$work/big.bin")" ]

echo
echo "tree: $FILES files, $((tree_bytes / 1024)) KiB; big file: $BIG_MIB MiB; best of $RUNS runs"
for what in tree big.bin; do
    p="$work/$what"
    row "dump   $what" "$(best_ms "$FLAKECTL" store dump "$p")" "$(best_ms "$oracle" --exec nix-store --dump "$p")" "nix-store --dump"
    row "hash   $what" "$(best_ms "$FLAKECTL" store hash "$p")" "$(best_ms "$oracle" --exec nix-hash --type sha256 "$p")" "nix-hash --type sha256"
    row "hash   $what (hashing limit)" "$(best_ms "$FLAKECTL" store hash "$p")" "$(best_ms sha_all "$p")" "openssl dgst -sha256"
    row "add    $what" "$(best_ms add_ours "$p")" "$(best_ms add_nix "$p")" "nix-store --add"
    # Re-adding an unchanged source (what every evaluation does): both stores keep the path.
    row "re-add $what (already valid)" \
        "$(best_ms "$FLAKECTL" --state-dir "$work/state" store add "$p")" \
        "$(best_ms "$oracle" --exec nix-store --store "$work/nixroot" --add "$p")" "nix-store --add"
done
"$FLAKECTL" --state-dir "$work/state" store build --name noop --builder /bin/sh --arg -c \
    --arg '/bin/mkdir $out' > /dev/null
printf "%-34s flakectl %7d ms\n" "no-op store build (already valid)" \
    "$(best_ms "$FLAKECTL" --state-dir "$work/state" store build --name noop --builder /bin/sh \
        --arg -c --arg '/bin/mkdir $out')"
