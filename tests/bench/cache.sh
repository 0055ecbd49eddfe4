#!/usr/bin/env bash
# Binary cache benchmark: flakectl against `nix copy` (Nix 2.8) on the same closure, in the
# same run, the same store directory on both sides.
#   - push:       `flakectl cache push --to file://` vs `nix copy --to file://` (zstd and xz,
#                 signed, into an empty cache)
#   - substitute: `flakectl store realise` vs `nix copy --from file://` (into an empty store,
#                 signature checked), from the cache each wrote
#   - substitute over HTTP: the same from an nginx serving both caches on 127.0.0.1 (when
#     nginx is installed), `nix copy --from http://` as the peer;
#   - many paths: a second closure of MANY small paths (default 300) and one referring to
#     all, pushed and substituted the same ways (the per-path costs: lookups, syncs,
#     registrations);
#   - `rsync -a` of the same closure's files (push: out of the source store; substitution:
#     into an empty directory), the issue's floor, beside every row.
# The contenders of a row run interleaved (round k runs each once), so load from the rest of
# the machine falls on all of them alike. Each run writes into an empty place: the previous
# run's output is moved aside, not deleted (CLEAN=1 deletes it instead), because ext4 does not
# reuse an inode for a minute or more after it was freed, so creating files right after an
# `rm -rf` of thousands scans past all of them: that cost belongs to the `rm -rf`, and it
# grows with the files each tool makes (flakectl's store: a lock and a registry entry per
# path beside its files).
# The closure: a tree of many small files (text, compressible), a few MiB of random data,
# and a built output referring to both. Prints best-of-N wall times and the ratios
# nix/flakectl and rsync/flakectl (>1 means flakectl is faster). Never fails on timing.
# With BEFORE=path/to/another/flakectl (an earlier build), that binary runs in every row as
# one more contender, so a change is measured under the same load as its peers.
# usage: [RUNS=3] [COMPS="zstd xz"] [CLEAN=1] [BEFORE=old/flakectl] tests/bench/cache.sh [path/to/flakectl]
#        (default: build/flakectl)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
FLAKECTL=${1:-${FLAKECTL:-$src/build/flakectl}}
RUNS=${RUNS:-3}
BEFORE=${BEFORE:-}
before=()
[ -z "$BEFORE" ] || before=(old_before)
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
pub=$(fl cache keygen bench-1 -o "$work/key.sec")
# nix's store gets the same closure (from a cache flakectl wrote; checked by nix)
fl cache push --to "file://$work/seed" --key "$work/key.sec" "$top" "$many"
nixat "$work/nixsrc" copy --from "file://$work/seed" --option trusted-public-keys "$pub" "$top" "$many" 2>/dev/null
# each closure's store paths (for rsync)
closure_files() { # PATH STOREDIR: the closure's paths, under STOREDIR
    fl store path-info --closure --json "$1" |
        python3 -c 'import json,os,sys; [print(os.path.join(sys.argv[1], os.path.basename(p["path"]))) for p in json.load(sys.stdin)]' "$2"
}
closure_files "$top" "$state/store" > "$work/top.list"
closure_files "$many" "$state/store" > "$work/many.list"

mkdir -p "$work/old"
aside_n=0
aside() { # PATH: out of the way for the next run (see CLEAN above)
    [ -e "$1" ] || return 0
    if [ "${CLEAN:-0}" = 1 ]; then
        chmod -R u+w "$1"
        rm -rf "$1"
    else
        aside_n=$((aside_n + 1))
        mv "$1" "$work/old/$aside_n"
    fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# race LABEL BYTES NAME... : RUNS rounds, each running every contender NAME once (the shell
# function prep_NAME untimed, then run_NAME timed); prints each one's best and the ratios
# against the first (flakectl). Sets best_NAME.
race() {
    local label=$1 bytes=$2 name s ms k
    shift 2
    for name in "$@"; do eval "best_$name=999999999"; done
    for _ in $(seq 1 "$RUNS"); do
        for name in "$@"; do
            "prep_$name"
            s=$(now_ms)
            "run_$name" > /dev/null 2>&1 || { echo "$label: $name failed" >&2; "run_$name" >&2 || true; exit 1; }
            ms=$(($(now_ms) - s))
            eval "[ $ms -lt \$best_$name ] && best_$name=$ms || true"
        done
    done
    local ours
    eval "ours=\$best_$1"
    printf "%-30s" "$label"
    for name in "$@"; do
        eval "ms=\$best_$name"
        printf "  %s %6d ms (%4s MiB/s)" "${name#*_}" "$ms" "$(mibs "$ms" "$bytes")"
    done
    printf "\n%-30s" ""
    for name in "${@:2}"; do
        eval "ms=\$best_$name"
        printf "  %s/flakectl %s" "${name#*_}" "$(ratio "$ms" "$ours")"
    done
    printf "\n"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
mibs() { awk -v n="$2" -v ms="$1" 'BEGIN { if (ms == 0) ms = 1; printf "%.0f", n / 1048576 / (ms / 1000) }'; }
rsync_to() { # LIST DEST: rsync -a of the listed paths into DEST
    local files=()
    while read -r p; do files+=("$p"); done < "$1"
    rsync -a "${files[@]}" "$2/"
}

echo
echo "closure 1: 3 paths, $((nar_bytes / 1024)) KiB of NAR ($FILES text files, $RAND_MIB MiB random)"
echo "closure 2: $((MANY + 1)) paths, $((many_bytes / 1024)) KiB of NAR"
echo "best of $RUNS interleaved runs; ratio > 1: flakectl is faster"
echo
# ---- push: into an empty file:// cache, signed; rsync copies the closure's files out of the store
for comp in ${COMPS:-zstd xz}; do
    for which in top many; do
        eval "path=\$$which"
        bytes=$nar_bytes
        [ "$which" = many ] && bytes=$many_bytes
        prep_fl_flakectl() { aside "$work/c-fl"; }
        run_fl_flakectl() { fl cache push --to "file://$work/c-fl" --key "$work/key.sec" --compression "$comp" "$path"; }
        prep_old_before() { aside "$work/c-old"; }
        run_old_before() { "$BEFORE" --quiet --state-dir "$state" cache push --to "file://$work/c-old" --key "$work/key.sec" --compression "$comp" "$path"; }
        prep_nix_nix() { aside "$work/c-nix"; }
        run_nix_nix() { nixat "$work/nixsrc" copy --to "file://$work/c-nix?compression=$comp&secret-key=$work/key.sec" "$path"; }
        prep_rs_rsync() { aside "$work/rs"; mkdir "$work/rs"; }
        run_rs_rsync() { rsync_to "$work/$which.list" "$work/rs"; }
        race "push $which ($comp)" "$bytes" fl_flakectl "${before[@]}" nix_nix rs_rsync
        # each tool's cache is complete and checks out; flakectl's is kept for substitution
        fl cache verify "file://$work/c-nix" --trusted-public-key "$pub" > /dev/null
        fl cache verify "file://$work/c-fl" --trusted-public-key "$pub" > /dev/null
        rm -rf "$work/c-$which-$comp"
        mv "$work/c-fl" "$work/c-$which-$comp"
    done
done
# ---- substitution: into an empty store with the same directory (the source store moves away)
mv "$state" "$work/state.orig"
sed -i "s|^$state/|$work/state.orig/|" "$work/top.list" "$work/many.list"
if [ -x "$nginx_bin" ]; then
    chmod 755 "$work"
    chmod -R a+rX "$work"/c-*
    nginx_serve "$work"
else
    echo "substitute http: skipped (nginx is not installed)"
fi
prep_fl_flakectl() { aside "$state"; }
run_fl_flakectl() { "$FLAKECTL" --quiet --state-dir "$state" store realise --substituters "$url" --trusted-public-key "$pub" "$path"; }
prep_old_before() { aside "$state"; }
run_old_before() { "$BEFORE" --quiet --state-dir "$state" store realise --substituters "$url" --trusted-public-key "$pub" "$path"; }
prep_nix_nix() { aside "$work/nixdst"; }
run_nix_nix() { nixat "$work/nixdst" copy --from "$url" --option trusted-public-keys "$pub" "$path"; }
prep_rs_rsync() { aside "$work/rs"; mkdir "$work/rs"; }
run_rs_rsync() { rsync_to "$work/$which.list" "$work/rs"; }
for comp in ${COMPS:-zstd xz}; do
    for which in top many; do
        eval "path=\$$which"
        bytes=$nar_bytes
        [ "$which" = many ] && bytes=$many_bytes
        url="file://$work/c-$which-$comp"
        race "substitute $which ($comp)" "$bytes" fl_flakectl "${before[@]}" nix_nix rs_rsync
        "$FLAKECTL" --state-dir "$state" store verify --check-contents > /dev/null
        if [ -n "${NGINX_URL:-}" ]; then
            url="$NGINX_URL/c-$which-$comp"
            race "substitute http $which ($comp)" "$bytes" fl_flakectl "${before[@]}" nix_nix rs_rsync
            "$FLAKECTL" --state-dir "$state" store verify --check-contents > /dev/null
        fi
    done
done
