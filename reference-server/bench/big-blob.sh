#!/usr/bin/env bash
# Pushes and pulls one big blob through `reference-registry serve` with curl and reports
# the server's peak RSS (from /usr/bin/time -v) and the throughput of each direction.
#
#   reference-server/bench/big-blob.sh            # 1 GiB
#   SIZE_MIB=256 reference-server/bench/big-blob.sh
#
# The push is the way docker pushes a layer: POST, one streamed PATCH with chunked
# transfer encoding and no Content-Range, then PUT ?digest=.
set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
PORT=${PORT:-5077}
HERE=$(cd "$(dirname "$0")" && pwd)
WORKSPACE=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WORKSPACE/target}

cargo build --quiet --release --manifest-path "$WORKSPACE/Cargo.toml" -p reference-server --bin reference-registry
BIN=$CARGO_TARGET_DIR/release/reference-registry

WORK=$(mktemp -d)
TIME_PID=
cleanup() {
    if [ -n "$TIME_PID" ] && kill -0 "$TIME_PID" 2>/dev/null; then
        pkill -TERM -P "$TIME_PID" || true
        wait "$TIME_PID" || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating ${SIZE_MIB} MiB of random data..."
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
sync

/usr/bin/time -v -o "$WORK/time.txt" "$BIN" serve --addr "127.0.0.1:$PORT" --root "$WORK/root" \
    2> "$WORK/server.log" &
TIME_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fs "$BASE/v2/" > /dev/null && break
    sleep 0.1
done

now() { date +%s.%N; }
rate() { awk -v s="$SIZE_MIB" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f MiB/s (%.2f s)", s / (b - a), b - a }'; }

LOC=$(curl -fsS -o /dev/null -D - -X POST "$BASE/v2/bench/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
t0=$(now)
LOC=$(curl -fsS -o /dev/null -D - -X PATCH -H 'Content-Type: application/octet-stream' \
    -H 'Transfer-Encoding: chunked' -T "$WORK/blob" "$BASE$LOC" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
t1=$(now)
curl -fsS -o /dev/null -X PUT "$BASE$LOC&digest=$DIGEST"
t2=$(now)
curl -fsS -o /dev/null "$BASE/v2/bench/blobs/$DIGEST"
t3=$(now)
# Pull again, verifying the digest on the client side.
GOT="sha256:$(curl -fsS "$BASE/v2/bench/blobs/$DIGEST" | sha256sum | cut -d' ' -f1)"
[ "$GOT" = "$DIGEST" ] || { echo "digest mismatch: $GOT != $DIGEST"; exit 1; }

pkill -TERM -P "$TIME_PID"
wait "$TIME_PID"
TIME_PID=

echo "blob:        $SIZE_MIB MiB, $DIGEST"
echo "push PATCH:  $(rate "$t0" "$t1")"
echo "push PUT:    $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f s (commit)", b - a }')"
echo "pull GET:    $(rate "$t2" "$t3")"
echo "server peak RSS: $(awk -F': ' '/Maximum resident set size/ { printf "%.1f MiB", $2 / 1024 }' "$WORK/time.txt")"
grep -E "Maximum resident|Elapsed|User time|System time" "$WORK/time.txt" | sed 's/^\s*/  /'
