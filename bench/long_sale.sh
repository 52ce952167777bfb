#!/usr/bin/env bash
# A long sale on PostgreSQL: ORDERS orders (default 100,000) in a row on one
# product, at 64 connections (bench/order.lua), with the product topped up
# to enough keys first. Every 10 s it samples the orders created so far and
# the keys table's live and dead tuples (pg_stat_user_tables), and prints
# the rate of each 10-second window, then the last window's rate against
# the first's (the target: >= 0.8).
#
#   KAPU_BENCH_BIN=target/release/kapu bash bench/long_sale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-100000}
CONNS=${CONNS:-64}
WINDOW=${WINDOW:-10}
source bench/lib.sh
work=$(mktemp -d)
chmod 755 "$work"
# A private PostgreSQL with production's vacuum settings (autovacuum on),
# whatever the machine's shared server is set to; BENCH_PG_URL uses that
# server instead.
pg_stop=""
if [ -n "${BENCH_PG_URL:-}" ]; then
  PG_URL=$BENCH_PG_URL
else
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgport=$(free_port)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  mkdir -p "$work/pg" && { [ "$(id -u)" != 0 ] || chown postgres "$work/pg"; }
  as_pg "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w start \
    -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c autovacuum=on" >/dev/null
  pg_stop="as_pg $pgbin/pg_ctl -D $work/pg/data -m immediate stop"
  PG_URL="postgres://postgres@127.0.0.1:$pgport/postgres"
fi
db="kapu_bench_long_$$"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$pg_stop" ]; then $pg_stop >/dev/null 2>&1 || true
  else psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
url="${PG_URL%/*}/$db"
PORT=$(free_port)
KAPU_DATA_DIR="$work" KAPU_DATABASE_URL="$url" KAPU_MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_SHOP_RATE_LIMITS=false KAPU_TRUSTED_PROXIES=127.0.0.1/32 \
RUST_LOG=warn "$BIN" serve --demo --listen "127.0.0.1:$PORT" >"$work/kapu.log" 2>&1 &
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
# Enough keys for every order plus a margin (copies of the demo's sealed
# keys under new ids: only a benchmark may do this).
copies=$(( (ORDERS * 12 / 10) / 20000 + 1 ))
psql "$url" -qc "INSERT INTO card_keys (tenant_id, id, product_id, ciphertext, nonce, fingerprint, status, created_at)
  SELECT k.tenant_id, md5(k.id || g), k.product_id, k.ciphertext, k.nonce, md5(k.fingerprint || g), 'available', now()
  FROM card_keys k, generate_series(1, $copies) g WHERE k.product_id = 'video-vip-month' AND k.status = 'available'"
psql "$url" -qc "VACUUM ANALYZE card_keys"
sample() { psql "$url" -qtAc "SELECT (SELECT count(*) FROM orders), n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'card_keys'"; }
echo "machine: $(nproc) cores; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $ORDERS orders at $CONNS connections; keys: $(psql "$url" -qtAc "SELECT count(*) FROM card_keys WHERE status = 'available'") available"
wrk -t2 -c"$CONNS" -d3600s -s bench/order.lua -H "Host: demo.localhost:$PORT" "http://127.0.0.1:$PORT/api/v1/orders" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
start=$(date +%s.%N)
IFS='|' read -r first _ _ <<<"$(sample)"
last=$first
rates=()
printf '%8s %10s %10s %12s %12s\n' "t (s)" "orders" "orders/s" "keys live" "keys dead"
while [ $((last - first)) -lt "$ORDERS" ]; do
  sleep "$WINDOW"
  IFS='|' read -r n live dead <<<"$(sample)"
  rate=$(( (n - last) / WINDOW ))
  rates+=("$rate")
  printf '%8.0f %10d %10d %12d %12d\n' "$(python3 -c "import time; print(time.time() - $start)")" "$((n - first))" "$rate" "$live" "$dead"
  last=$n
  kill -0 "$wrk_pid" 2>/dev/null || { echo "wrk stopped early" >&2; cat "$work/wrk.out" >&2; break; }
done
kill "$wrk_pid" 2>/dev/null || true
n=${#rates[@]}
echo "first window: ${rates[0]} orders/s; last window: ${rates[$((n - 1))]} orders/s; last/first = $(python3 -c "print(round(${rates[$((n - 1))]}/max(1,${rates[0]}), 2))")"
echo "errors in the server log: $(grep -c ' ERROR ' "$work/kapu.log" || true)"
