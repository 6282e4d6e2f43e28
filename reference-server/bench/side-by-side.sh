#!/usr/bin/env bash
# The reference registry and CNCF distribution 2.8.2 side by side, on the same disk:
# `registry-conformance bench --url REF --compare-url DIST` (ratios are reference /
# distribution, in speed terms: above 1, the reference registry is faster), the disk's own
# write limit (dd of the same bytes with fsync), and each server's peak RSS
# (/usr/bin/time -v). Prints one table; both servers are stopped on exit.
#
#   reference-server/bench/side-by-side.sh                  # 1 GiB blobs, 3 s runs, 3 repetitions
#   SIZES=64MiB DURATION=1 REPEAT=2 reference-server/bench/side-by-side.sh
#   WORKLOADS=push,pull CONCURRENCY=8 BENCH_DIR=/mnt/ssd reference-server/bench/side-by-side.sh
#
# Environment: SIZES (1GiB), DURATION (3), REPEAT (3), CONCURRENCY (4), WORKLOADS (all),
# DD_MIB (1024: the bytes dd writes), BENCH_DIR (where both registries store: ${TMPDIR:-/tmp}).
# Needs docker-registry (Debian: apt-get install docker-registry) and /usr/bin/time.
set -euo pipefail

SIZES=${SIZES:-1GiB}
DURATION=${DURATION:-3}
REPEAT=${REPEAT:-3}
CONCURRENCY=${CONCURRENCY:-4}
WORKLOADS=${WORKLOADS:-all}
DD_MIB=${DD_MIB:-1024}
HERE=$(cd "$(dirname "$0")" && pwd)
WORKSPACE=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WORKSPACE/target}

for tool in docker-registry /usr/bin/time curl python3; do
    command -v "$tool" >/dev/null || { echo "side-by-side: $tool is missing" >&2; exit 2; }
done

# Always --workspace: a per-package build re-resolves features and rebuilds dependencies.
echo "building release binaries..." >&2
cargo build --quiet --release --manifest-path "$WORKSPACE/Cargo.toml" --workspace
REF_BIN=$CARGO_TARGET_DIR/release/reference-registry
SUITE_BIN=$CARGO_TARGET_DIR/release/registry-conformance

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/side-by-side.XXXXXX")
REF_TIME_PID=
DIST_TIME_PID=

# stop PID: the server under /usr/bin/time PID gets SIGTERM (by its own pid), then time
# writes its report and exits.
stop() {
    local tpid=$1 child
    [ -n "$tpid" ] && kill -0 "$tpid" 2>/dev/null || return 0
    for child in $(pgrep -P "$tpid" || true); do
        kill -TERM "$child" 2>/dev/null || true
    done
    wait "$tpid" 2>/dev/null || true
}
cleanup() {
    stop "$REF_TIME_PID"
    stop "$DIST_TIME_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {
    local i
    for i in $(seq 1 150); do
        curl -s -o /dev/null -m 2 "$1" && return 0
        kill -0 "$2" 2>/dev/null || { echo "$3 exited before answering" >&2; return 1; }
        sleep 0.2
    done
    echo "$3 did not answer at $1 within 30s" >&2
    return 1
}

REF_PORT=$(free_port)
mkdir -p "$WORK/ref-root" "$WORK/dist-root"
/usr/bin/time -v -o "$WORK/ref-time.txt" "$REF_BIN" serve --addr "127.0.0.1:$REF_PORT" \
    --root "$WORK/ref-root" >"$WORK/ref.log" 2>&1 &
REF_TIME_PID=$!
wait_http "http://127.0.0.1:$REF_PORT/v2/" "$REF_TIME_PID" reference-registry || { tail "$WORK/ref.log"; exit 1; }

DIST_PORT=$(free_port)
# The CI's distribution config, with the run-specific values through its env mapping.
REGISTRY_HTTP_ADDR=127.0.0.1:$DIST_PORT \
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$WORK/dist-root \
    REGISTRY_HTTP_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    /usr/bin/time -v -o "$WORK/dist-time.txt" docker-registry serve "$WORKSPACE/.ci/distribution/config.yml" \
    >"$WORK/dist.log" 2>&1 &
DIST_TIME_PID=$!
wait_http "http://127.0.0.1:$DIST_PORT/v2/" "$DIST_TIME_PID" distribution || { tail "$WORK/dist.log"; exit 1; }

echo "benching reference-registry (A, :$REF_PORT) against distribution 2.8.2 (B, :$DIST_PORT) on $WORK..." >&2
set +e
"$SUITE_BIN" bench --url "http://127.0.0.1:$REF_PORT" --compare-url "http://127.0.0.1:$DIST_PORT" \
    --sizes "$SIZES" --duration "$DURATION" --repeat "$REPEAT" --concurrency "$CONCURRENCY" \
    --workloads "$WORKLOADS" --json "$WORK/bench.json" --progress plain \
    >"$WORK/bench.txt" 2>"$WORK/bench.log"
BENCH_RC=$?
set -e
if [ $BENCH_RC -ne 0 ]; then
    echo "registry-conformance bench exited $BENCH_RC:" >&2
    tail -n 20 "$WORK/bench.log" >&2
fi

# The disk's own write limit: the same number of bytes, 4 MiB writes, fsync at the end.
sync
dd_out=$(dd if=/dev/zero of="$WORK/dd.bin" bs=4M count=$((DD_MIB / 4)) conv=fsync 2>&1 | tail -n 1)
rm -f "$WORK/dd.bin"
DD_RATE=$(echo "$dd_out" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) secs = $(i - 1);
    printf "%.0f MiB/s", $1 / 1048576 / secs }')

stop "$REF_TIME_PID"; REF_TIME_PID=
stop "$DIST_TIME_PID"; DIST_TIME_PID=
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$1"; }
cpu() { awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f s user, %.1f s sys", u, s }' "$1"; }

FS=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')
echo
echo "side by side: reference-registry (A) vs distribution $(docker-registry --version | awk '{ print $3 }') (B), both storing on $WORK ($FS)"
echo
cat "$WORK/bench.txt"
echo
printf '%-34s  %-28s  %s\n' "machine" "reference-registry (A)" "distribution (B)"
printf '%-34s  %-28s  %s\n' "disk write limit (dd ${DD_MIB}MiB fsync)" "$DD_RATE" "$DD_RATE"
printf '%-34s  %-28s  %s\n' "server peak RSS" "$(rss "$WORK/ref-time.txt")" "$(rss "$WORK/dist-time.txt")"
printf '%-34s  %-28s  %s\n' "server CPU over the whole run" "$(cpu "$WORK/ref-time.txt")" "$(cpu "$WORK/dist-time.txt")"
exit $BENCH_RC
