#!/usr/bin/env bash
# The whole suite against a distant registry: `reference-registry serve` on loopback behind
# the latency proxy (suite/examples/latency_proxy.rs), DELAY_MS each way (default 25 ms,
# a 50 ms round trip), timed with the default flags, serially (--test-threads 1) and with
# the libtest default of this machine's CPU count (the suite's default before issue 13).
#
#   reference-server/bench/distant.sh                 # 3 runs of each, medians
#   RUNS=5 DELAY_MS=50 reference-server/bench/distant.sh
#   MODES="default" reference-server/bench/distant.sh # only the no-flag run
#   MODES="t8 t64" reference-server/bench/distant.sh   # --test-threads 8, then 64
#   TLS=1 reference-server/bench/distant.sh           # HTTPS (HTTP/2 by ALPN) through the proxy
#   SUITE=/tmp/old/registry-conformance reference-server/bench/distant.sh  # another build
#
# Each run uses a fresh namespace on the same registry, so runs never share a repository.
# Prints a table of the median, minimum and maximum wall time per mode, and the outcome
# counts of each run's results.json (they must not differ between modes).
set -euo pipefail

RUNS=${RUNS:-3}
DELAY_MS=${DELAY_MS:-25}
MODES=${MODES:-"default cpus serial"}
TLS=${TLS:-0}
# Free loopback ports unless given.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REGISTRY_PORT=${REGISTRY_PORT:-$(free_port)}
PROXY_PORT=${PROXY_PORT:-$(free_port)}
HERE=$(cd "$(dirname "$0")" && pwd)
WORKSPACE=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WORKSPACE/target}

cargo build --quiet --release --manifest-path "$WORKSPACE/Cargo.toml" --workspace --bins --examples
BIN=$CARGO_TARGET_DIR/release
# SUITE=path/to/registry-conformance times another build (an older commit's, say).
SUITE=${SUITE:-$BIN/registry-conformance}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

SCHEME=http
TLS_ARGS=()
CA_ARGS=()
if [ "$TLS" = 1 ]; then
    "$BIN/reference-registry" keygen --key "$WORK/tls.key" --cert "$WORK/tls.crt" \
        --name 127.0.0.1 --name localhost > /dev/null
    SCHEME=https
    TLS_ARGS=(--tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key")
    CA_ARGS=(--ca-cert "$WORK/tls.crt")
fi

"$BIN/reference-registry" serve --addr "127.0.0.1:$REGISTRY_PORT" --root "$WORK/root" \
    "${TLS_ARGS[@]}" 2> "$WORK/registry.log" &
PIDS+=($!)
"$BIN/examples/latency-proxy" --listen "127.0.0.1:$PROXY_PORT" \
    --upstream "127.0.0.1:$REGISTRY_PORT" --delay-ms "$DELAY_MS" --quiet 2> "$WORK/proxy.log" &
PIDS+=($!)
URL="$SCHEME://127.0.0.1:$PROXY_PORT"
for _ in $(seq 1 100); do
    curl -fsk "$URL/v2/" > /dev/null 2>&1 && break
    sleep 0.1
done
curl -fsk "$URL/v2/" > /dev/null || { echo "registry not answering through the proxy"; cat "$WORK"/*.log; exit 1; }

now() { date +%s.%N; }
CPUS=$(nproc)
# Outcome counts of a results.json: "pass 250 warn 3 ..." (sorted by outcome).
counts() {
    python3 -c 'import collections, json, sys
r = json.load(open(sys.argv[1]))
c = collections.Counter(s["outcome"] for s in r["tests"])
print(" ".join(f"{k} {c[k]}" for k in sorted(c)))' "$1"
}

declare -A TIMES
echo "registry: $URL (reference-registry behind latency-proxy, ${DELAY_MS} ms each way), $CPUS CPUs"
for mode in $MODES; do
    case $mode in
        default) flags=() ;;
        cpus) flags=(--test-threads "$CPUS") ;;
        serial) flags=(--test-threads 1) ;;
        t[0-9]*) flags=(--test-threads "${mode#t}") ;;
        *) echo "unknown mode $mode (default, cpus, serial, tN)"; exit 2 ;;
    esac
    for run in $(seq 1 "$RUNS"); do
        out=$WORK/$mode-$run
        t0=$(now)
        set +e
        "$SUITE" --url "$URL" "${CA_ARGS[@]}" "${flags[@]}" --quiet \
            --junit "$out/junit.xml" > "$out.log" 2>&1
        rc=$?
        set -e
        t1=$(now)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        TIMES[$mode]="${TIMES[$mode]:-} $secs"
        echo "  $mode run $run: $secs s (exit $rc; $(counts "$out/results.json"))"
    done
done

stats() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f s | %.1f s | %.1f s", a[int((NR + 1) / 2)], a[1], a[NR] }'; }
echo
echo "| mode (${DELAY_MS} ms each way, $((2 * DELAY_MS)) ms RTT) | flags | median | min | max |"
echo "|---|---|---|---|---|"
for mode in $MODES; do
    case $mode in
        default) label="default"; f="(none)" ;;
        cpus) label="CPU count (old default)"; f="--test-threads $CPUS" ;;
        serial) label="serial"; f="--test-threads 1" ;;
        t*) label="${mode#t} at once"; f="--test-threads ${mode#t}" ;;
    esac
    echo "| $label | \`$f\` | $(echo "${TIMES[$mode]}" | stats) |"
done
