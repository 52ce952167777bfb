#!/usr/bin/env bash
# One shop's promotion must not slow the others: two shops on one process,
# a quiet one browsed at a steady pace (bench/paced.lua: PACE_CONNS
# connections, one product page every PACE_MS each) and a neighbour flooded
# from many client addresses (bench/flood.lua, FLOOD_CONNS connections).
# Prints the quiet shop's p50/p99 alone (baseline) and during each flood, in
# the same run, and the ratio against the baseline:
#   capped:  the neighbour on the free plan (50 requests/s): almost every
#            flood request is refused with the small 429;
#   orders:  the neighbour's cap lifted and the flood placing orders
#            (bench/order.lua): what the per-shop share holds back.
# Plan caps are on, as in production; the per-client limit is raised so
# that only the shop-wide guards bind.
#
#   KAPU_BENCH_BIN=target/release/kapu bash bench/two_shops.sh
#   ENGINE=postgres bash bench/two_shops.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
RUNS=${RUNS:-3}
PACE_CONNS=${PACE_CONNS:-4}
FLOOD_CONNS=${FLOOD_CONNS:-64}
ENGINE=${ENGINE:-sqlite}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
source bench/lib.sh
work=$(mktemp -d)
pgdb=""
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$pgdb" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
PORT=$(free_port)
base="http://127.0.0.1:$PORT"
if [ "$ENGINE" = postgres ]; then
  pgdb="kapu_bench_two_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
  DB_URL="${PG_URL%/*}/$pgdb"
else
  DB_URL="sqlite://$work/kapu.db?mode=rwc"
fi
sql() {
  if [ "$ENGINE" = postgres ]; then psql "$DB_URL" -qtAc "$1"
  else python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); c.executescript(sys.argv[2]); c.commit()" "$work/kapu.db" "$1"; fi
}

pid=""
start() {
  KAPU_DATA_DIR="$work" KAPU_DATABASE_URL="$DB_URL" KAPU_MASTER_KEY="$(cat "$work/master" 2>/dev/null || head -c 32 /dev/urandom | base64 | tee "$work/master")" \
  KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_TRUSTED_PROXIES=127.0.0.1/32 \
  RUST_LOG=warn "$BIN" serve --demo --listen "127.0.0.1:$PORT" >>"$work/kapu.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do curl -sf "$base/healthz" >/dev/null && return; sleep 0.5; done
  echo "kapu did not start:" >&2; tail -20 "$work/kapu.log" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }

# wrk_lat HOST PATH CONNS SCRIPT SECS -> "req/s p50_ms p99_ms non2xx"
wrk_lat() {
  local out
  out=$(wrk -t1 -c"$3" -d"$5s" --latency -H "Host: $1:$PORT" -s "$4" "$base$2")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")") $(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)"
}

# quiet [FLOOD_PATH FLOOD_SCRIPT] -> sets Q (rps p50 p99) and F (rps non2xx): medians of RUNS
quiet() {
  local qs=() q50=() q99=() fr=() fb=()
  for _ in $(seq 1 "$RUNS"); do
    local fpid=""
    if [ -n "${1:-}" ]; then
      (wrk_lat demo.localhost "$1" "$FLOOD_CONNS" "$2" $((SECS + 2)) >"$work/flood.out") &
      fpid=$!
      sleep 1
    fi
    read -r r a b _ < <(PACE_MS=${PACE_MS:-20} wrk_lat quiet.localhost /products/win11-pro "$PACE_CONNS" bench/paced.lua "$SECS")
    qs+=("$r"); q50+=("$a"); q99+=("$b")
    if [ -n "$fpid" ]; then
      wait "$fpid"
      read -r r _ _ n <"$work/flood.out"
      fr+=("$r"); fb+=("$(python3 -c "print(round(100*$n/max(1,$r*($SECS+2)),1))")")
    fi
  done
  Q="$(median "${qs[@]}") $(median "${q50[@]}") $(median "${q99[@]}")"
  F="$( [ ${#fr[@]} -gt 0 ] && echo "$(median "${fr[@]}") $(median "${fb[@]}")" || echo "0 0")"
}

start
# The quiet shop: a copy of the demo shop's rows under another id and slug,
# on the Pro plan (500 requests/s), without payment channels (their sealed
# credentials belong to the demo shop); it is only browsed.
sql "CREATE TEMP TABLE qt AS SELECT * FROM tenants WHERE slug = 'demo';
  UPDATE qt SET id = 'quietshop0000000', slug = 'quiet', plan_id = 'pro';
  INSERT INTO tenants SELECT * FROM qt;
  CREATE TEMP TABLE qc AS SELECT * FROM categories WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'demo');
  UPDATE qc SET tenant_id = 'quietshop0000000';
  INSERT INTO categories SELECT * FROM qc;
  CREATE TEMP TABLE qp AS SELECT * FROM products WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'demo');
  UPDATE qp SET tenant_id = 'quietshop0000000';
  INSERT INTO products SELECT * FROM qp;"
curl -sf -o /dev/null -H "Host: quiet.localhost:$PORT" "$base/products/win11-pro" || { echo "the quiet shop does not answer" >&2; exit 1; }

echo "machine: $(nproc) cores; engine $ENGINE; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "quiet shop: $PACE_CONNS connections, one /products/win11-pro every ${PACE_MS:-20} ms each; neighbour: $FLOOD_CONNS connections; ${SECS}s x $RUNS runs, medians"
quiet; read -r b_r b50 b99 <<<"$Q"
quiet / bench/flood.lua; read -r c_r c50 c99 <<<"$Q"; read -r cf_r cf_bad <<<"$F"
stop
# Lift the neighbour's cap (its plan's) and flood it with orders.
sql "UPDATE plans SET storefront_rps = NULL WHERE id = 'free'"
start
quiet /api/v1/orders bench/order.lua; read -r o_r o50 o99 <<<"$Q"; read -r of_r of_bad <<<"$F"
stop
printf '\n%-44s %10s %9s %9s %10s\n' "quiet shop's product page" "req/s" "p50 ms" "p99 ms" "p99 ratio"
printf '%-44s %10.0f %9s %9s %10s\n' "alone (baseline)" "$b_r" "$b50" "$b99" "1.00"
printf '%-44s %10.0f %9s %9s %10.2f\n' "neighbour flooded, capped ($(printf %.0f "$cf_r") req/s, ${cf_bad}% 429)" "$c_r" "$c50" "$c99" "$(python3 -c "print($c99/$b99)")"
printf '%-44s %10.0f %9s %9s %10.2f\n' "neighbour placing orders ($(printf %.0f "$of_r") req/s, ${of_bad}% non-2xx)" "$o_r" "$o50" "$o99" "$(python3 -c "print($o99/$b99)")"
