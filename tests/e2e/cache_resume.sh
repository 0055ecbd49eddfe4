#!/usr/bin/env bash
# Resumed NAR downloads against a real nginx (Debian's package) on 127.0.0.1, throttled with
# limit_rate so that a download can be interrupted midway; nginx's access log (with the Range
# and If-Range each request carried) says what was asked and sent:
#   - `store realise` killed with -9 midway: nothing registered, the next run asks for the
#     rest only (a 206 from the byte the partial's note names) and the path verifies;
#   - the connection dropped (nginx's worker killed) midway: the same run goes on with a
#     Range request and succeeds;
#   - a server that ignores Range (max_ranges 0) sends the whole file again, which is used;
#   - a partial whose bytes were corrupted is not trusted (the whole file, no Range); one
#     corrupted along with its note is resumed, fails the FileHash check and is fetched again;
#   - gc removes partial downloads untouched for a day and keeps fresh ones.
set -euo pipefail
: "${FLAKECTL:?}"
source "$(dirname "$0")/lib/nginx.bash"
nginx_work
bg="" # a realise running in a session of its own
trap '[ -z "$bg" ] || kill -9 -- "-$bg" 2>/dev/null; nginx_work_cleanup' EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -s "$work/ngx/error.log" ] && sed 's/^/nginx: /' "$work/ngx/error.log" | tail -5 >&2
    exit 1
}
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }

mkdir src && head -c $((8 * 1024 * 1024)) /dev/urandom > src/blob
blob=$(fl store add src)
pub=$(fl cache keygen resume-1 -o key.sec)
# no compression: the NAR file's bytes are the NAR's, so offsets are easy to reason about
fl cache push --to "file://$work/srv/c" --key key.sec --compression none "$blob"
chmod -R a+rX "$work/srv"
narinfo="$work/srv/c/$(basename "$blob" | cut -c1-32).narinfo"
nar_rel=$(sed -n 's/^URL: //p' "$narinfo")
nar_size=$(stat -c %s "$work/srv/c/$nar_rel")
mv "$state" "$work/state.orig"

read -r port rport < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
nginx_start "$work" "$port" "    log_format rng '\$status \"\$request\" range=\"\$http_range\" ifrange=\"\$http_if_range\" sent=\$body_bytes_sent';
    server {
        listen 127.0.0.1:$port;
        root $work/srv;
        limit_rate 2m;
        access_log $work/ngx/ranges.log rng;
    }
    server {
        listen 127.0.0.1:$rport;
        root $work/srv;
        limit_rate 2m;
        max_ranges 0;
        access_log $work/ngx/noranges.log rng;
    }"
url="http://127.0.0.1:$port/c"
nourl="http://127.0.0.1:$rport/c"

partial_dir="$state/tmp/partial"
note_offset() { sed -n 's/^offset //p' "$partial_dir"/*.meta 2>/dev/null || true; }
# wait_note PID: waits until the partial's note vouches for at least 2 MiB, while PID runs
wait_note() {
    local off
    for _ in $(seq 200); do
        off=$(note_offset)
        [ -n "$off" ] && [ "$off" -ge $((2 * 1024 * 1024)) ] && return 0
        kill -0 "$1" 2>/dev/null || fail "realise ended before it could be interrupted"
        sleep 0.05
    done
}
# realise_killed URL: starts `store realise` from URL in its own session, kills the whole
# session with -9 once the partial's note vouches for at least 2 MiB; prints that offset.
realise_killed() {
    local log=ngx/ranges.log before
    [ "$1" = "$url" ] || log=ngx/noranges.log
    before=$(nar_lines 0 "$log" | wc -l)
    rm -rf "$state"
    setsid "$FLAKECTL" --quiet --state-dir "$state" store realise --substituters "$1" \
        --trusted-public-key "$pub" "$blob" > /dev/null 2>&1 & bg=$!
    wait_note "$bg"
    local off
    off=$(note_offset)
    kill -9 -- "-$bg"
    wait "$bg" 2>/dev/null || true
    bg=""
    [ -n "$off" ] && [ "$off" -ge $((2 * 1024 * 1024)) ] || fail "no partial download of 2 MiB appeared"
    [ "$off" -lt "$nar_size" ] || fail "the download finished before the kill"
    off=$(note_offset) # the last note written before the kill
    # nginx logs the cut request when it notices the client is gone (its next throttled
    # write): wait for that line, so that the test's own requests come after it
    for _ in $(seq 100); do
        [ "$(nar_lines 0 "$log" | wc -l)" -gt "$before" ] && break
        sleep 0.1
    done
    [ "$(nar_lines 0 "$log" | wc -l)" -gt "$before" ] || fail "nginx never logged the cut request"
    echo "$off"
}
not_valid() {
    if fl store path-info "$blob" > /dev/null 2>&1; then fail "$1: $blob is registered"; fi
    [ ! -e "$blob" ] || fail "$1: $blob exists in the store"
}
realise() { fl store realise --substituters "$1" --trusted-public-key "$pub" "$blob" > out 2> err ||
    fail "realise from $1: $(cat err)"; }
valid() {
    [ "$(cat out)" = "$blob" ] || fail "$1: realise printed '$(cat out)'"
    cmp "$blob/blob" "$work/src/blob" || fail "$1: the substituted contents differ"
    fl store verify --check-contents > /dev/null || fail "$1: store verify failed"
    [ -z "$(find "$partial_dir" -type f)" ] || fail "$1: partial files left: $(ls -la "$partial_dir")"
}
# the access log lines for the NAR after line $1 of log $2
nar_lines() { tail -n +"$(($1 + 1))" "$2" | grep -F "GET /c/$nar_rel " || true; }
# next_realise URL LOG WHAT: realises from URL and checks the result; $lines becomes the NAR
# requests LOG got meanwhile
next_realise() {
    local n
    n=$(wc -l < "$2")
    realise "$1"
    valid "$3"
    lines=$(nar_lines "$n" "$2")
}

# 1. kill -9 midway, then resume with a Range request from the noted byte
off=$(realise_killed "$url")
not_valid "after the kill"
[ "$(stat -c %a "$partial_dir")" = 700 ] || fail "the partial directory is not private"
[ "$(stat -c %s "$partial_dir"/*.nar)" -ge "$off" ] || fail "the partial file is shorter than its note"
next_realise "$url" ngx/ranges.log "resumed after kill -9"
[ "$(echo "$lines" | wc -l)" = 1 ] || fail "expected one NAR request after the kill: $lines"
echo "$lines" | grep -q "^206 .* range=\"bytes=$off-\" ifrange=\"[^\"]\+\" sent=$((nar_size - off))$" ||
    fail "the resumed request is not a 206 from byte $off with If-Range: $lines"
echo "ok: a download killed with -9 at byte $off resumed with a 206 for the other $((nar_size - off)) bytes"

# 2. the connection dropped midway (nginx's worker killed; the master starts another): the
# same run goes on from where the bytes stopped
rm -rf "$state"
n=$(wc -l < ngx/ranges.log)
"$FLAKECTL" --state-dir "$state" store realise --substituters "$url" --trusted-public-key "$pub" \
    "$blob" > out 2> err & rp=$!
wait_note "$rp"
workers=$(pgrep -P "$ngx_pid" || true)
[ -n "$workers" ] || fail "no nginx worker to kill"
kill -9 $workers
wait "$rp" || fail "realise after a dropped connection failed: $(cat err)"
valid "after a dropped connection"
grep -q "stopped at byte .*: resuming" err || fail "no note of the resumed download: $(cat err)"
lines=$(nar_lines "$n" ngx/ranges.log)
echo "$lines" | grep -q "^206 .* range=\"bytes=[1-9][0-9]*-\"" ||
    fail "no Range request after the connection dropped: $lines"
echo "ok: a dropped connection is resumed within the same run (206)"

# 3. a server that ignores Range: the whole file again, and it is used
off=$(realise_killed "$nourl")
next_realise "$nourl" ngx/noranges.log "from a server without ranges"
echo "$lines" | grep -q "^200 .* range=\"bytes=$off-\" .* sent=$nar_size$" ||
    fail "expected a Range request answered with the whole file (200, $nar_size bytes): $lines"
echo "ok: a server that ignores Range sends the whole file, which is used"

# 4. a partial whose bytes were corrupted is not trusted: the whole file, no Range
off=$(realise_killed "$url")
printf 'XXXXXXXX' | dd of="$(ls "$partial_dir"/*.nar)" bs=1 seek=1000000 conv=notrunc status=none
next_realise "$url" ngx/ranges.log "after a corrupted partial"
[ "$(echo "$lines" | wc -l)" = 1 ] || fail "expected one NAR request: $lines"
echo "$lines" | grep -q "^200 .* range=\"-\" .* sent=$nar_size$" ||
    fail "a corrupted partial was resumed: $lines"
echo "ok: a partial with corrupted bytes is downloaded again whole"

# 5. corrupted along with a note that vouches for the corrupted bytes: resumed, the file's
# hash does not match its narinfo, downloaded again whole
off=$(realise_killed "$url")
part=$(ls "$partial_dir"/*.nar)
meta=$(ls "$partial_dir"/*.meta)
printf 'XXXXXXXX' | dd of="$part" bs=1 seek=1000000 conv=notrunc status=none
sum=$(head -c "$off" "$part" | sha256sum | cut -d' ' -f1)
sed -i "s/^sha256 .*/sha256 $sum/" "$meta"
n=$(wc -l < ngx/ranges.log)
"$FLAKECTL" --state-dir "$state" store realise --substituters "$url" --trusted-public-key "$pub" \
    "$blob" > out 2> err || fail "realise after a forged note: $(cat err)"
valid "after a forged note"
grep -q "not the file its narinfo names: downloading it again" err || fail "no note of the second download: $(cat err)"
lines=$(nar_lines "$n" ngx/ranges.log)
[ "$(echo "$lines" | sed -n 1p | cut -c1-3)" = 206 ] && [ "$(echo "$lines" | sed -n 2p | cut -c1-3)" = 200 ] ||
    fail "expected a 206 then a whole 200: $lines"
echo "$lines" | sed -n 2p | grep -q "range=\"-\" .* sent=$nar_size$" || fail "the second request was not for the whole file: $lines"
echo "ok: a resumed file that fails its FileHash is fetched again whole"

# 6. gc: partials untouched for a day go, fresh ones stay
realise_killed "$url" > /dev/null
fl gc > gc.out || fail "gc failed"
[ -n "$(find "$partial_dir" -name '*.nar')" ] || fail "gc removed a fresh partial download"
touch -d '2 days ago' "$partial_dir"/*
fl gc > gc.out || fail "gc failed"
[ -z "$(find "$partial_dir" -type f)" ] || fail "gc left stale partials: $(ls -la "$partial_dir")"
grep -q "stale partial download" gc.out || fail "gc does not say it removed stale partials: $(cat gc.out)"
echo "ok: gc removes stale partial downloads only"
