#!/usr/bin/env bash
# Substitution over HTTP from a real nginx (Debian's package) serving a cache directory on
# 127.0.0.1, started here with its own config and pid file, stopped by the trap: a closure
# substitutes (nginx's access log shows the requests), a path the cache lacks is "no
# substituter has it" (404), a tampered NAR served over HTTP is refused with nothing
# registered, and `cache verify` checks named paths over HTTP.
set -euo pipefail
: "${FLAKECTL:?}"
source "$(dirname "$0")/lib/nginx.bash"
source "$(dirname "$0")/lib/bytes.bash"
nginx_work
unset SSL_CERT_FILE NIX_SSL_CERT_FILE # libcurl's own bundle unless a step names a CA
fail() {
    echo "FAIL: $*" >&2
    [ -s "$work/ngx/error.log" ] && sed 's/^/nginx: /' "$work/ngx/error.log" >&2
    exit 1
}
state="$work/state"
fl() { "$FLAKECTL" --quiet --state-dir "$state" "$@"; }

mkdir src && head -c 1000000 /dev/urandom > src/blob
dep=$(fl store add src)
top=$(fl store build --name top --builder /bin/sh --arg -c --arg "echo $dep > \$out" --input "$dep")
pub=$(fl cache keygen http-1 -o key.sec)
fl cache push --to "file://$work/srv/zstd" --key key.sec "$top"
fl cache push --to "file://$work/srv/xz" --key key.sec --compression xz "$top"
chmod -R a+rX "$work/srv"
mkdir other && echo x > other/f
ghost=$(fl store add other) # never pushed
mv "$state" "$work/state.orig"

# two distinct free ports (both bound at once, so they differ)
read -r port tport < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
mkdir -p ngx/tmp
# a private CA's certificate for 127.0.0.1, for the https server
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout ngx/key.pem -out ngx/cert.pem 2>/dev/null ||
    fail "openssl could not make a certificate"
nginx_start "$work" "$port" "    server {
        listen 127.0.0.1:$port;
        root $work/srv;
    }
    server {
        listen 127.0.0.1:$tport ssl;
        ssl_certificate $work/ngx/cert.pem;
        ssl_certificate_key $work/ngx/key.pem;
        root $work/srv;
    }"
url="http://127.0.0.1:$port/zstd"
python3 -c "import urllib.request; urllib.request.urlopen('$url/nix-cache-info')" ||
    fail "nginx does not serve the cache"

# a path the cache lacks: a 404, not an error
if fl store realise --substituters "$url" --trusted-public-key "$pub" "$ghost" 2>err; then
    fail "realised a path no cache has"
fi
grep -q "no substituter has it" err || fail "missing path: $(cat err)"

out=$(fl store realise --substituters "$url" --trusted-public-key "$pub" "$top")
[ "$out" = "$top" ] || fail "realise over http printed '$out'"
cmp <(fl store dump "$dep") <(fl --state-dir "$work/state.orig" store dump "$dep") || fail "$dep differs"
grep -q "GET /zstd/$(basename "$top" | cut -c1-32).narinfo HTTP/1.1\" 200" ngx/access.log || fail "no narinfo request in nginx's log"
grep -q "GET /zstd/nar/.*\.nar\.zst HTTP/1.1\" 200" ngx/access.log || fail "no NAR request in nginx's log"
fl cache verify "$url" --trusted-public-key "$pub" "$top" "$dep" > verify.out || fail "verify over http: $(cat verify.out)"
echo "ok: substituted over HTTP from nginx"

# https: a certificate nobody trusts is an error naming the URL; trusted through
# SSL_CERT_FILE (or NIX_SSL_CERT_FILE, as nix), the cache substitutes
rm -rf "$state"
turl="https://127.0.0.1:$tport/zstd"
if fl store realise --substituters "$turl" --trusted-public-key "$pub" "$top" 2>err; then
    fail "substituted over https from an untrusted certificate"
fi
grep -q "$turl" err || fail "the TLS error does not name the URL: $(cat err)"
grep -qi "certificate" err || fail "the TLS error does not say certificate: $(cat err)"
for var in SSL_CERT_FILE NIX_SSL_CERT_FILE; do
    rm -rf "$state"
    out=$(env "$var=$work/ngx/cert.pem" "$FLAKECTL" --quiet --state-dir "$state" store realise \
        --substituters "$turl" --trusted-public-key "$pub" "$top") || fail "https with the CA in $var failed"
    [ "$out" = "$top" ] || fail "realise over https printed '$out'"
done
echo "ok: substituted over https (a private CA through SSL_CERT_FILE or NIX_SSL_CERT_FILE)"

# a tampered NAR over HTTP (xz: the tool is part of every Debian)
url="http://127.0.0.1:$port/xz"
rm -rf "$state"
narinfo="$work/srv/xz/$(basename "$dep" | cut -c1-32).narinfo"
nar="$work/srv/xz/$(grep '^URL' "$narinfo" | cut -d' ' -f2)"
xz -dc "$nar" > nar.raw
flip_byte nar.raw 500000
xz -c nar.raw > "$nar"
if fl store realise --substituters "$url" --trusted-public-key "$pub" "$top" 2>err; then
    fail "a tampered NAR over HTTP was accepted"
fi
grep -q "hash mismatch for $dep" err || fail "tampered over http: $(cat err)"
grep -q "$url" err || fail "the error does not name the cache: $(cat err)"
[ -z "$(ls -A "$state/store")" ] || fail "a tampered download left something in the store"
[ -z "$(ls "$state/db" | grep json || true)" ] || fail "a tampered download registered something"
[ -z "$(find "$state/tmp" -type f 2>/dev/null)" ] || fail "a download was left in $state/tmp: $(find "$state/tmp" -type f)"
echo "ok: a tampered NAR over HTTP is refused, nothing registered"
