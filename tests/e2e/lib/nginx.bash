# nginx.bash - a real nginx (Debian's package) serving a directory over HTTP on 127.0.0.1,
# with its own config, pid and logs under DIR, for the pull and cache tests.
#
#   nginx_start DIR ROOT   # serves ROOT; sets NGX_PORT and NGX_PID; exits 77 when nginx is
#                          # not installed; fails the test when it does not come up
#   nginx_stop             # stops it (call from the test's EXIT trap)
#   NGX_DIR/access.log     # one line per request
nginx_start() {
    NGX_DIR=$1
    local root=$2 bin
    bin=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$bin" ] || { echo "SKIP: nginx is not installed (scripts/install-deps.sh installs it)"; exit 77; }
    mkdir -p "$NGX_DIR/tmp"
    NGX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$NGX_DIR/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log;
events { worker_connections 64; }
http {
    access_log $NGX_DIR/access.log;
    client_body_temp_path $NGX_DIR/tmp/body;
    proxy_temp_path $NGX_DIR/tmp/proxy;
    fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
    scgi_temp_path $NGX_DIR/tmp/scgi;
    server {
        listen 127.0.0.1:$NGX_PORT;
        root $root;
    }
}
CONF
    "$bin" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" 2>"$NGX_DIR/stderr" &
    NGX_PID=$!
    local _
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $NGX_PORT), 0.2)" 2>/dev/null && return 0
        kill -0 "$NGX_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: nginx did not start: $(cat "$NGX_DIR/stderr" "$NGX_DIR/error.log" 2>/dev/null)" >&2
    exit 1
}

nginx_stop() {
    [ -n "${NGX_PID:-}" ] || return 0
    kill "$NGX_PID" 2>/dev/null && wait "$NGX_PID" 2>/dev/null
    NGX_PID=
}
