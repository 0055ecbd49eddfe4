# nginx.bash - a private nginx (Debian's package) for the e2e tests (sourced): its own config,
# pid file, logs and temp directories under DIR/ngx, listening on 127.0.0.1 only; the test's
# trap stops it (kill "$ngx_pid").
#
#   $nginx_bin                       the binary (test -x it: skip when nginx is missing)
#   nginx_start DIR PORT SERVERS     writes DIR/ngx/nginx.conf with SERVERS (the server { }
#                                    blocks), starts nginx, sets ngx_pid and waits until PORT
#                                    answers; a start that fails ends the test with nginx's
#                                    own messages; with NGINX_NETNS set, nginx runs in that
#                                    network namespace and is awaited on NGINX_ADDR (the
#                                    address SERVERS listen on; default 127.0.0.1)
#   nginx_work                       skips the test (77) when nginx is missing; makes $work
#                                    (readable by nginx's workers, which run as another
#                                    user) and enters it; the EXIT trap stops nginx and every
#                                    pid in ngx_also (helpers such as fcgiwrap), then removes
#                                    $work
#   free_port                        prints a TCP port nothing listens on now
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
ngx_pid=""
ngx_also=()

nginx_work() {
    [ -x "$nginx_bin" ] || { echo "skip: nginx is not installed (scripts/install-deps.sh installs it)"; exit 77; }
    work=$(mktemp -d)
    chmod 755 "$work"
    trap nginx_work_cleanup EXIT
    cd "$work"
}

nginx_work_cleanup() {
    local p
    for p in $ngx_pid "${ngx_also[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    chmod -R u+w "$work" 2>/dev/null
    rm -rf "$work"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

nginx_start() {
    local dir=$1 port=$2 servers=$3
    mkdir -p "$dir/ngx/tmp"
    cat > "$dir/ngx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/ngx/nginx.pid;
error_log $dir/ngx/error.log;
events { worker_connections 256; }
http {
    access_log $dir/ngx/access.log;
    client_body_temp_path $dir/ngx/tmp/body;
    proxy_temp_path $dir/ngx/tmp/proxy;
    fastcgi_temp_path $dir/ngx/tmp/fastcgi;
    uwsgi_temp_path $dir/ngx/tmp/uwsgi;
    scgi_temp_path $dir/ngx/tmp/scgi;
$servers
}
EOF
    ${NGINX_NETNS:+ip netns exec "$NGINX_NETNS"} "$nginx_bin" -p "$dir/ngx" -c "$dir/ngx/nginx.conf" 2> "$dir/ngx/stderr" & ngx_pid=$!
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('${NGINX_ADDR:-127.0.0.1}', $port), 0.2)" \
            2>/dev/null && return 0
        if ! kill -0 "$ngx_pid" 2>/dev/null; then
            echo "FAIL: nginx did not start: $(cat "$dir/ngx/stderr" "$dir/ngx/error.log" 2>/dev/null)" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "FAIL: nginx does not answer on ${NGINX_ADDR:-127.0.0.1}:$port: $(cat "$dir/ngx/error.log" 2>/dev/null)" >&2
    exit 1
}
