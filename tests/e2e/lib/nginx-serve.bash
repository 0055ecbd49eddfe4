# nginx-serve.bash - a real nginx (Debian's package) serving a directory over plain HTTP, for
# tests and benchmarks that need a binary cache on the network (sourced).
#
#   nginx_serve ROOT [LISTEN_ADDR]  # sets NGINX_PORT, NGINX_PID, NGINX_URL, NGINX_LOG; with
#                                   # NGINX_NETNS set, nginx runs in that network namespace
#   nginx_serve_stop                      # stops exactly the nginx nginx_serve started
#
# Everything nginx writes stays in $NGINX_DIR (a temp dir, removed by nginx_serve_stop). Returns 77
# from nginx_serve when nginx is not installed.
NGINX_PID="" NGINX_DIR=""

nginx_serve() { # ROOT [ADDR]
    local root=$1 addr=${2:-127.0.0.1} bin
    bin=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$bin" ] || { echo "nginx is not installed (scripts/install-deps.sh installs it)" >&2; return 77; }
    NGINX_DIR=$(mktemp -d)
    chmod 755 "$NGINX_DIR"
    NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$NGINX_DIR/tmp"
    cat >"$NGINX_DIR/nginx.conf" <<EOC
daemon off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log;
events { worker_connections 256; }
http {
    access_log $NGINX_DIR/access.log;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    server { listen $addr:$NGINX_PORT; root $root; }
}
EOC
    ${NGINX_NETNS:+ip netns exec "$NGINX_NETNS"} "$bin" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" 2>"$NGINX_DIR/stderr" &
    NGINX_PID=$!
    NGINX_LOG=$NGINX_DIR/access.log
    NGINX_URL=http://$addr:$NGINX_PORT
    local _
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('$addr', $NGINX_PORT), 0.2)" 2>/dev/null && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "nginx did not start: $(cat "$NGINX_DIR/stderr" "$NGINX_DIR/error.log" 2>/dev/null)" >&2
    return 1
}

nginx_serve_stop() {
    if [ -n "$NGINX_PID" ]; then
        kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
        NGINX_PID=""
    fi
    [ -z "$NGINX_DIR" ] || rm -rf "$NGINX_DIR"
    NGINX_DIR=""
    return 0
}
