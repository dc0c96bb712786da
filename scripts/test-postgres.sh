# Sourced by ./run-tests: make sure the PostgreSQL pass has a server to talk to.
#
# If a server answers at DECONFLICTION_TEST_DATABASE_URL (default: the machine's own on
# 127.0.0.1:5432), that one is used. Otherwise, when PostgreSQL's server binaries are installed
# (`pg_config --bindir`, or /usr/lib/postgresql/*/bin), a throwaway cluster is started for the
# run: initdb as an unprivileged user (initdb refuses root), trust auth, loopback only, a free
# port, its data in a temporary folder removed when the run ends. With neither, one line says
# what to install or set, and the pass fails.
# Usage: ensure_test_postgres   (exports DECONFLICTION_TEST_DATABASE_URL; returns 1 on failure)

_TEST_PG_DIR=""
_TEST_PG_BIN=""

_postgres_answers() {
    .venv/bin/python - "$1" <<'EOF' >/dev/null 2>&1
import sys

import psycopg

psycopg.connect(sys.argv[1], connect_timeout=3).close()
EOF
}

_postgres_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

_free_port() {
    .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a command as the cluster's owner: ourselves, or `nobody` when we are root.
_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

stop_test_postgres() {
    if [ -n "$_TEST_PG_DIR" ]; then
        _as_owner "$_TEST_PG_BIN/pg_ctl" -D "$_TEST_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$_TEST_PG_DIR"
        _TEST_PG_DIR=""
    fi
}

ensure_test_postgres() {
    local url="${DECONFLICTION_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
    if _postgres_answers "$url"; then
        return 0
    fi
    if ! _TEST_PG_BIN="$(_postgres_bindir)"; then
        echo "error: no PostgreSQL answers at $url and no server binaries are installed:" \
            "install them (Debian: apt-get install -y postgresql) or set" \
            "DECONFLICTION_TEST_DATABASE_URL to a server where the user may CREATE DATABASE" >&2
        return 1
    fi
    local port
    port="$(_free_port)"
    _TEST_PG_DIR="$(mktemp -d /tmp/deconfliction-test-pg.XXXXXX)"
    chmod 0755 "$_TEST_PG_DIR"
    [ "$(id -u)" -ne 0 ] || chown nobody:nogroup "$_TEST_PG_DIR"
    echo "== no PostgreSQL at $url: a throwaway cluster on 127.0.0.1:$port ($_TEST_PG_BIN)" >&2
    if ! _as_owner "$_TEST_PG_BIN/initdb" -D "$_TEST_PG_DIR/data" -U postgres --auth=trust \
        --encoding=UTF8 --no-sync >"$_TEST_PG_DIR/initdb.log" 2>&1; then
        echo "error: initdb failed (its log follows)" >&2
        cat "$_TEST_PG_DIR/initdb.log" >&2
        stop_test_postgres
        return 1
    fi
    # fsync off: a throwaway cluster has nothing to keep across a crash of the machine.
    if ! _as_owner "$_TEST_PG_BIN/pg_ctl" -D "$_TEST_PG_DIR/data" -w -t 60 \
        -l "$_TEST_PG_DIR/server.log" \
        -o "-p $port -k $_TEST_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null; then
        echo "error: the throwaway PostgreSQL did not start (its log follows)" >&2
        cat "$_TEST_PG_DIR/server.log" >&2
        stop_test_postgres
        return 1
    fi
    export DECONFLICTION_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}
