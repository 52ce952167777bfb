#!/usr/bin/env bash
# Storefront benchmark: builds release, starts `kapu serve --demo` on SQLite
# and then on PostgreSQL, and prints for each: /healthz (the ceiling of this
# server on this machine), the storefront home page, a product page,
# GET /api/v1/products and order creation on the 20,000-key product, at 64
# connections with wrk.
# Every figure is the median of RUNS runs; ratios are against /healthz of the
# same server in the same run. The per-client rate limit is raised (and the
# plans' shop-wide caps are off) so the
# benchmark measures the path, not the guard; orders come from many client
# addresses (wrk is a trusted proxy here), so the unpaid-order cap keeps its
# default of 5 per buyer.
#
#   bash bench/run.sh              # SQLite, then PostgreSQL if reachable
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres bash bench/run.sh
#   KAPU_BENCH_BIN=/path/to/kapu bash bench/run.sh   # an existing build (e.g. an older commit's), not built here
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECS=${SECS:-8}
ORDER_SECS=${ORDER_SECS:-3}
CONNS=${CONNS:-64}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

if [ -n "${KAPU_BENCH_BIN:-}" ]; then
  BIN=$KAPU_BENCH_BIN
else
  cargo build --release --quiet
  BIN=target/release/kapu
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk_once URL [script] -> "req/s p50_ms p99_ms non2xx"
wrk_once() {
  local url=$1 script=${2:-} secs=${3:-$SECS} out
  out=$(wrk -t2 -c"$CONNS" -d"${secs}s" --latency -H "Host: demo.localhost:$PORT" ${script:+-s "$script"} "$url")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}"
}
to_ms() { python3 -c "
import re,sys; v=sys.argv[1]; m=re.match(r'([0-9.]+)(us|ms|s)',v)
n,u=float(m.group(1)),m.group(2); print(round(n/1000 if u=='us' else n*1000 if u=='s' else n,3))" "$1"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# measure NAME URL [script] [secs] -> sets R_<NAME> = "rps p50 p99 non2xx" (medians)
measure() {
  local name=$1 url=$2 script=${3:-} secs=${4:-$SECS} rs=() p50s=() p99s=() bads=()
  for _ in $(seq 1 "$RUNS"); do
    read -r r a b n < <(wrk_once "$url" "$script" "$secs")
    rs+=("$r"); p50s+=("$a"); p99s+=("$b"); bads+=("$n")
  done
  printf -v "R_$name" '%s %s %s %s' "$(median "${rs[@]}")" "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" "$(median "${bads[@]}")"
}

bench_engine() {
  local engine=$1 db_url=$2
  PORT=$(free_port)
  local data="$work/$engine"
  mkdir -p "$data"
  KAPU_DATA_DIR="$data" KAPU_DATABASE_URL="$db_url" KAPU_MASTER_KEY=$(head -c 32 /dev/urandom | base64) \
  KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_SHOP_RATE_LIMITS=false KAPU_TRUSTED_PROXIES=127.0.0.1/32 \
  RUST_LOG=warn "$BIN" serve --demo --listen "127.0.0.1:$PORT" >"$data/kapu.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
  local base="http://127.0.0.1:$PORT"
  curl -sf -H "Host: demo.localhost:$PORT" "$base/" >/dev/null   # warm caches
  measure healthz "$base/healthz"
  measure home "$base/"
  measure product "$base/products/win11-pro"
  measure products "$base/api/v1/products"
  measure orders "$base/api/v1/orders" bench/order.lua "$ORDER_SECS"
  kill -TERM "$pid"; wait "$pid" || true
  local ceiling; ceiling=$(cut -d' ' -f1 <<<"$R_healthz")
  printf '\n%s (%s runs x %ss, %s connections; medians)\n' "$engine" "$RUNS" "$SECS" "$CONNS"
  printf '%-22s %12s %9s %9s %9s %10s\n' "endpoint" "req/s" "p50 ms" "p99 ms" "non-2xx" "vs healthz"
  for n in healthz home product products orders; do
    local v="R_$n"; read -r r a b bad <<<"${!v}"
    printf '%-22s %12.0f %9s %9s %9.0f %9.2f%%\n' "$n" "$r" "$a" "$b" "$bad" "$(python3 -c "print(100*$r/$ceiling)")"
  done
}

echo "machine: $(nproc) cores; wrk -t2 -c$CONNS; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
bench_engine sqlite "sqlite://$work/sqlite/kapu.db?mode=rwc"
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  name="kapu_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $name" >/dev/null
  bench_engine postgres "${PG_URL%/*}/$name"
  psql "$PG_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
else
  echo "PostgreSQL not reachable on 127.0.0.1:5432: skipped"
fi
