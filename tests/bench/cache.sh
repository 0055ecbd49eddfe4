#!/usr/bin/env bash
# Binary cache benchmark: flakectl against `nix copy` (Nix 2.8) on the same closure, in the
# same run, the same store directory on both sides.
#   - push:       `flakectl cache push --to file://` vs `nix copy --to file://` (zstd and xz,
#                 signed, into an empty cache)
#   - substitute: `flakectl store realise` vs `nix copy --from file://` (into an empty store,
#                 signature checked), from the cache each wrote
#   - substitute over HTTP: the same from an nginx serving both caches on 127.0.0.1 (when
#     nginx is installed), `nix copy --from http://` as the peer;
#   - many paths: a second closure of MANY small paths (default 300), substituted by both
#     tools from file:// (the per-path costs: lookups, syncs, registrations);
#   - rsync of the cache directory and of the closure's files (the bytes alone, no hashing
#     or unpacking) for scale.
# The closure: a tree of many small files (text, compressible), a few MiB of random data,
# and a built output referring to both. Prints best-of-N wall times and ratio
# peer/flakectl (>1 means flakectl is faster). Never fails on timing.
# usage: [RUNS=3] [COMPS="zstd xz"] tests/bench/cache.sh [path/to/flakectl]   (default: build/flakectl)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${1:-${FLAKECTL:-$src/build/flakectl}}
RUNS=${RUNS:-3}
FILES=${FILES:-2000}
RAND_MIB=${RAND_MIB:-16}
MANY=${MANY:-300}
oracle=$src/tests/lib/nix-oracle
work=$(mktemp -d)
source "$src/tests/e2e/lib/nginx-serve.bash"
trap 'nginx_serve_stop; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }
nixat() { # ROOT ARGS...: nix on a chroot store at ROOT whose logical directory is $state/store
    local root=$1
    shift
    NIX_STORE_DIR="$state/store" NIX_STATE_DIR="$root/var" NIX_LOG_DIR="$root/log" \
        NIX_REMOTE="local?root=$root" "$oracle" --exec nix --quiet \
        --extra-experimental-features nix-command "$@"
}

echo "generating the closure in $work ..."
mkdir -p "$work/text" "$work/rand"
python3 - "$work/text" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
words = "static int return struct const char void size_t if else for while error".split()
for i in range(n):
    d = os.path.join(root, "d%d" % (i % 40))
    os.makedirs(d, exist_ok=True)
    size = rnd.randrange(200, 16000)  # source-like text: compressible
    out, total = [], 0
    while total < size:
        line = " ".join(rnd.choice(words) for _ in range(8)) + ";\n"
        out.append(line)
        total += len(line)
    with open(os.path.join(d, "f%d.c" % i), "w") as f:
        f.write("".join(out))
PY
head -c $((RAND_MIB * 1024 * 1024)) /dev/urandom > "$work/rand/blob"
text=$(fl store add "$work/text")
rand=$(fl store add "$work/rand")
top=$(fl store build --name top --builder /bin/sh --arg -c --arg "echo $text $rand > \$out" \
    --input "$text" --input "$rand")
nar_bytes=$(fl store path-info --closure --json "$top" |
    python3 -c 'import json,sys; print(sum(p["narSize"] for p in json.load(sys.stdin)))')
# the second closure: MANY small paths (a few KiB of text each) and one referring to all
mkdir -p "$work/many"
many_inputs=() many_paths=""
for i in $(seq 1 "$MANY"); do
    mkdir -p "$work/many/p$i"
    head -c 3000 "$work/text/d$((i % 40))/f$i.c" > "$work/many/p$i/f" 2>/dev/null || echo "path $i" > "$work/many/p$i/f"
    p=$(fl store add --name "small-$i" "$work/many/p$i")
    many_inputs+=(--input "$p")
    many_paths="$many_paths $p"
done
# the output names every input: they are its references
echo "$many_paths" > "$work/many.refs"
many=$(fl store build --name many --builder /bin/sh --arg -c --arg "/bin/cat $work/many.refs > \$out" "${many_inputs[@]}")
many_bytes=$(fl store path-info --closure --json "$many" |
    python3 -c 'import json,sys; print(sum(p["narSize"] for p in json.load(sys.stdin)))')
fl store path-info --closure --json "$many" |
    python3 -c 'import json,os,sys; [print(os.path.basename(p["path"])) for p in json.load(sys.stdin)]' > "$work/many.list"
pub=$(fl cache keygen bench-1 -o "$work/key.sec")
# nix's store gets the same closure (from a cache flakectl wrote; checked by nix)
fl cache push --to "file://$work/seed" --key "$work/key.sec" "$top"
nixat "$work/nixsrc" copy --from "file://$work/seed" --option trusted-public-keys "$pub" "$top" 2>/dev/null

best_ms() { # best wall time of RUNS runs of "$@" (each after running $prep), output discarded
    local best=999999999 s e ms
    for _ in $(seq 1 "$RUNS"); do
        eval "$prep"
        s=$(date +%s%N)
        "$@" > /dev/null 2>&1
        e=$(date +%s%N)
        ms=$(((e - s) / 1000000))
        [ "$ms" -lt "$best" ] && best=$ms
    done
    echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
mibs() { awk -v n="$nar_bytes" -v ms="$1" 'BEGIN { if (ms == 0) ms = 1; printf "%.0f", n / 1048576 / (ms / 1000) }'; }
row() { # label ours peer peername
    printf "%-24s flakectl %6d ms (%4s MiB/s)   %-20s %6d ms (%4s MiB/s)   ratio %s\n" \
        "$1" "$2" "$(mibs "$2")" "$4" "$3" "$(mibs "$3")" "$(ratio "$3" "$2")"
}

echo
echo "closure: 3 paths, $((nar_bytes / 1024)) KiB of NAR ($FILES text files, $RAND_MIB MiB random); best of $RUNS runs"
for comp in ${COMPS:-zstd xz}; do
    prep="rm -rf '$work/c-fl-$comp'"
    ours=$(best_ms "$FLAKECTL" --quiet --state-dir "$state" cache push --to "file://$work/c-fl-$comp" \
        --key "$work/key.sec" --compression "$comp" "$top")
    prep="rm -rf '$work/c-nix-$comp'"
    peer=$(best_ms nixat "$work/nixsrc" copy \
        --to "file://$work/c-nix-$comp?compression=$comp&secret-key=$work/key.sec" "$top")
    row "push ($comp)" "$ours" "$peer" "nix copy --to"
    # each tool's cache is complete and checks out
    fl cache verify "file://$work/c-nix-$comp" --trusted-public-key "$pub" > /dev/null
    fl cache verify "file://$work/c-fl-$comp" --trusted-public-key "$pub" > /dev/null
done
fl cache push --to "file://$work/c-many" --key "$work/key.sec" "$many" > /dev/null
# Substitution goes into an empty store with the same directory: the source store moves away.
mv "$state" "$work/state.orig"
# substitute LABEL URL PATH: flakectl and nix substitute PATH from URL into empty stores;
# sets ours and peer (ms), prints a row unless LABEL is empty
substitute() {
    prep="rm -rf '$state'"
    ours=$(best_ms "$FLAKECTL" --quiet --state-dir "$state" store realise \
        --substituters "$2" --trusted-public-key "$pub" "$3")
    "$FLAKECTL" --state-dir "$state" store verify --check-contents > /dev/null
    prep="chmod -R u+w '$work/nixdst' 2>/dev/null || true; rm -rf '$work/nixdst'"
    peer=$(best_ms nixat "$work/nixdst" copy --from "$2" --option trusted-public-keys "$pub" "$3")
    [ -z "$1" ] || row "$1" "$ours" "$peer" "nix copy --from"
}
for comp in ${COMPS:-zstd xz}; do
    substitute "substitute ($comp)" "file://$work/c-fl-$comp" "$top"
done
if [ -x "$nginx_bin" ]; then
    chmod 755 "$work"
    chmod -R a+rX "$work"/c-fl-*
    nginx_serve "$work"
    for comp in ${COMPS:-zstd xz}; do
        substitute "substitute http ($comp)" "$NGINX_URL/c-fl-$comp" "$top"
    done
else
    echo "substitute http: skipped (nginx is not installed)"
fi
# many small paths: pushed by flakectl (zstd, before the store moved), substituted by both
# from file://
nar_bytes_all=$nar_bytes
nar_bytes=$many_bytes
substitute "" "file://$work/c-many" "$many"
echo
echo "closure 2: $((MANY + 1)) paths, $((many_bytes / 1024)) KiB of NAR"
row "substitute $((MANY + 1)) paths" "$ours" "$peer" "nix copy --from"
many_files=()
while read -r p; do many_files+=("$work/state.orig/store/$p"); done < "$work/many.list"
prep="rm -rf '$work/rs'; mkdir '$work/rs'"
peer=$(best_ms rsync -a "${many_files[@]}" "$work/rs/")
printf "%-24s rsync -a of the closure's files:      %d ms\n" "" "$peer"
nar_bytes=$nar_bytes_all
prep="rm -rf '$work/rs'"
peer=$(best_ms rsync -a "$work/c-fl-zstd/" "$work/rs/")
printf "%-24s rsync -a of the zstd cache directory: %d ms (%s MiB/s of NAR)\n" "copy the bytes" "$peer" "$(mibs "$peer")"
prep="rm -rf '$work/rs'"
peer=$(best_ms rsync -a "$work/state.orig/store/" "$work/rs/")
printf "%-24s rsync -a of the closure's files:      %d ms (%s MiB/s of NAR)\n" "" "$peer" "$(mibs "$peer")"
