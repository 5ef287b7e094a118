#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: trust auth, loopback only, fsync off, deleted on stop.
# PG_DURABLE=1 keeps PostgreSQL's durability defaults (fsync, synchronous_commit and
# full_page_writes on), as the benchmarks measure it.
#
#   scripts/postgres.sh start DIR PORT   init + start a cluster in DIR (absent or empty),
#                                        create database caseload_test, print its URL
#   scripts/postgres.sh restart DIR [S]  stop it (fast), stay down S seconds (0), start it again
#   scripts/postgres.sh stop DIR         stop it (fast) and remove DIR
#   scripts/postgres.sh bindir           print the server binaries' directory, or fail
#
# Only the URL goes to stdout, so `url=$(scripts/postgres.sh start "$dir" "$port")` works.
# As root (CI), the server runs as the `postgres` user: initdb refuses to run as root.
# Set PG_BINDIR to pick a specific installation.
set -euo pipefail

readonly MARKER=.caseload-throwaway-postgres
readonly DATABASE=caseload_test

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    sed -n '6,10s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

# The directory holding initdb, pg_ctl and postgres of one installation.
find_bindir() {
    local candidates=()
    [[ -n "${PG_BINDIR:-}" ]] && candidates+=("$PG_BINDIR")
    local on_path
    # /usr/local/bin/pg_ctl may be a symlink into the real installation: follow it.
    if on_path=$(command -v pg_ctl 2>/dev/null); then
        candidates+=("$(dirname "$(readlink -f "$on_path")")")
    fi
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    # Debian/Ubuntu keep each major version apart; prefer the newest.
    local dir
    while IFS= read -r dir; do
        candidates+=("$dir")
    done < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rV)
    candidates+=(/usr/pgsql-*/bin /usr/local/pgsql/bin)
    for dir in "${candidates[@]}"; do
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

require_bindir() {
    BINDIR=$(find_bindir) || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.
  Install them:  apt-get install -y postgresql   (Debian/Ubuntu; others: the postgresql server package)
  or point PG_BINDIR at the directory that holds them."
}

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$DIR" && runuser -u postgres -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

log_tail() {
    if [[ -f "$DIR/server.log" ]]; then
        say "last lines of $DIR/server.log:"
        tail -n 30 "$DIR/server.log" >&2
    fi
}

# Start the server of DIR/data on 127.0.0.1:PORT and wait until it accepts connections.
run_server() {
    local port=$1
    # -k: the Unix socket lives in DIR, not in /run/postgresql (which may be absent).
    local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ "${PG_DURABLE:-0}" == 1 ]] && durability="-c fsync=on -c synchronous_commit=on"
    if ! as_owner "$BINDIR/pg_ctl" --pgdata="$DIR/data" --log="$DIR/server.log" \
        --wait --timeout=60 \
        -o "-p $port -k '$DIR' -c listen_addresses=127.0.0.1 $durability" \
        start >&2; then
        log_tail
        die "pg_ctl start failed (is port $port taken?)"
    fi

    local ready=0
    for _ in $(seq 1 60); do
        if "$BINDIR/pg_isready" --quiet --host=127.0.0.1 --port="$port" --username=postgres; then
            ready=1
            break
        fi
        sleep 0.5
    done
    if ((!ready)); then
        log_tail
        die "server on port $port is not accepting connections"
    fi
}

start() {
    local port=$1
    [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "not a TCP port: $port"
    require_bindir

    if [[ -e "$DIR" ]]; then
        [[ -d "$DIR" ]] || die "$DIR exists and is not a directory"
        [[ -z "$(ls -A "$DIR")" ]] || die "$DIR is not empty; refusing to use it"
    fi
    if [[ $EUID -eq 0 ]]; then
        command -v runuser >/dev/null || die "runuser (util-linux) is needed to run as root"
        id -u postgres >/dev/null 2>&1 ||
            die "no 'postgres' user; initdb refuses root (apt-get install postgresql creates it)"
    fi
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    touch "$DIR/$MARKER"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$DIR"
        runuser -u postgres -- test -w "$DIR" ||
            die "user postgres cannot reach $DIR: every parent directory must be searchable (chmod o+x)"
    fi
    chmod 700 "$DIR"

    say "initdb ($BINDIR) into $DIR/data"
    if ! as_owner "$BINDIR/initdb" --pgdata="$DIR/data" --username=postgres --auth=trust \
        --encoding=UTF8 --no-locale --nosync >"$DIR/initdb.log" 2>&1; then
        cat "$DIR/initdb.log" >&2
        die "initdb failed"
    fi

    say "starting on 127.0.0.1:$port"
    run_server "$port"

    "$BINDIR/psql" --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --host=127.0.0.1 --port="$port" \
        --username=postgres --dbname=postgres \
        --command="CREATE DATABASE $DATABASE OWNER postgres" >&2 ||
        die "could not create database $DATABASE"

    printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$port" "$DATABASE"
}

# Stop the server (fast: sessions are cut), stay down DOWN seconds, start it again on the
# same port with the same data: a database outage and its return.
restart() {
    local down=$1
    [[ $down =~ ^[0-9]+([.][0-9]+)?$ ]] || die "not a number of seconds: $down"
    [[ -f "$DIR/$MARKER" ]] || die "$DIR was not made by '$0 start'; refusing to touch it"
    [[ -f "$DIR/data/postmaster.pid" ]] || die "no server is running in $DIR"
    DIR=$(cd "$DIR" && pwd -P)
    require_bindir
    local port
    port=$(sed -n 4p "$DIR/data/postmaster.pid")
    as_owner "$BINDIR/pg_ctl" --pgdata="$DIR/data" --mode=fast --wait --timeout=30 stop >&2 ||
        die "pg_ctl stop failed"
    say "stopped; down for ${down}s"
    sleep "$down"
    run_server "$port"
    say "restarted on 127.0.0.1:$port"
}

stop() {
    if [[ ! -e "$DIR" ]]; then
        say "$DIR does not exist; nothing to stop"
        return 0
    fi
    [[ -f "$DIR/$MARKER" ]] || die "$DIR was not made by '$0 start'; refusing to delete it"
    DIR=$(cd "$DIR" && pwd -P)
    local pidfile="$DIR/data/postmaster.pid"
    if [[ -f "$pidfile" ]]; then
        if BINDIR=$(find_bindir) &&
            as_owner "$BINDIR/pg_ctl" --pgdata="$DIR/data" --mode=fast --wait --timeout=30 \
                stop >&2; then
            say "stopped"
        else
            local pid
            pid=$(head -n 1 "$pidfile")
            if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                say "pg_ctl stop failed; killing postmaster $pid"
                kill -KILL "$pid" || true
            fi
        fi
    fi
    rm -rf -- "$DIR"
    say "removed $DIR"
}

case "${1:-}" in
    start)
        (($# == 3)) || usage
        DIR=$2
        start "$3"
        ;;
    restart)
        (($# == 2 || $# == 3)) || usage
        DIR=$2
        restart "${3:-0}"
        ;;
    stop)
        (($# == 2)) || usage
        DIR=$2
        stop
        ;;
    bindir)
        (($# == 1)) || usage
        require_bindir
        printf '%s\n' "$BINDIR"
        ;;
    *) usage ;;
esac
