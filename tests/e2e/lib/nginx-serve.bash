# nginx-serve.bash - one directory served over plain HTTP by nginx.bash's private nginx, for
# tests and benchmarks that need a binary cache on the network (sourced).
#
#   nginx_serve ROOT [LISTEN_ADDR]  # sets NGINX_PORT, NGINX_PID, NGINX_URL, NGINX_LOG,
#                                   # NGINX_DIR; with NGINX_NETNS set, nginx runs in that
#                                   # network namespace; returns 77 when nginx is missing
#   nginx_serve_stop                # stops exactly that nginx and removes NGINX_DIR
source "$(dirname "${BASH_SOURCE[0]}")/nginx.bash"
NGINX_PID="" NGINX_DIR=""

nginx_serve() { # ROOT [ADDR]
    local root=$1 addr=${2:-127.0.0.1}
    [ -x "$nginx_bin" ] || { echo "nginx is not installed (scripts/install-deps.sh installs it)" >&2; return 77; }
    NGINX_DIR=$(mktemp -d)
    chmod 755 "$NGINX_DIR"
    NGINX_PORT=$(free_port)
    NGINX_ADDR=$addr nginx_start "$NGINX_DIR" "$NGINX_PORT" "    server { listen $addr:$NGINX_PORT; root $root; }"
    NGINX_PID=$ngx_pid
    NGINX_LOG=$NGINX_DIR/ngx/access.log
    NGINX_URL=http://$addr:$NGINX_PORT
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
