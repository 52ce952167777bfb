#!/usr/bin/env bash
# Storefront benchmark: builds release, starts `kapu serve --demo` on SQLite
# and then on PostgreSQL, and prints for each: /healthz (the ceiling of this
# server on this machine), the storefront home page, a product page,
# GET /api/v1/products, order creation on the demo's 20,000-key product
# (topped up to 180,000 keys by copying its sealed keys in SQL first), and
# payment confirmation (signed sandbox notifications for the orders just
# created: each one paid, delivered and its email queued), at 64
# connections with wrk. On PostgreSQL it then measures the database's own
# ceilings with pgbench in the same run: the built-in simple-update script
# (the commit ceiling) and the order's shape in plain SQL (bench/pgbench/),
# picking keys from the first available row and from random lanes.
# Order runs alternate with the same order on a second shop ("outlet") that
# sells that product from the demo shop's stock (in-platform supply: each
# order reserves the supplier's key in its own transaction).
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
#   BUYING_ONLY=1 RUNS=1 bash bench/run.sh            # quick: healthz, orders, notifications, pgbench
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECS=${SECS:-8}
ORDER_SECS=${ORDER_SECS:-3}
NOTIFY_SECS=${NOTIFY_SECS:-2}
CONNS=${CONNS:-64}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
source bench/lib.sh
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# wrk_once URL [script] -> "req/s p50_ms p99_ms non2xx"
wrk_once() {
  local url=$1 script=${2:-} secs=${3:-$SECS} out
  out=$(wrk -t2 -c"$CONNS" -d"${secs}s" --latency -H "Host: ${BENCH_SHOP:-demo}.localhost:$PORT" ${script:+-s "$script"} "$url")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}"
}

# measure NAME URL [script] [secs] -> sets R_<NAME> = "rps p50 p99 non2xx" (medians)
# With PER_RUN set, run i exports NOTIFY_LIST=$PER_RUN.$i (its own notifications).
measure() {
  local name=$1 url=$2 script=${3:-} secs=${4:-$SECS} rs=() p50s=() p99s=() bads=()
  for i in $(seq 1 "$RUNS"); do
    [ -n "${PER_RUN:-}" ] && export NOTIFY_LIST="$PER_RUN.$i"
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
  MASTER_KEY=$(head -c 32 /dev/urandom | base64)
  KAPU_DATA_DIR="$data" KAPU_DATABASE_URL="$db_url" KAPU_MASTER_KEY="$MASTER_KEY" \
  KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_SHOP_RATE_LIMITS=false KAPU_TRUSTED_PROXIES=127.0.0.1/32 \
  RUST_LOG=warn "$BIN" serve --demo --listen "127.0.0.1:$PORT" >"$data/kapu.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
  local base="http://127.0.0.1:$PORT"
  curl -sf -H "Host: demo.localhost:$PORT" "$base/" >/dev/null   # warm caches
  measure healthz "$base/healthz"
  if [ -z "${BUYING_ONLY:-}" ]; then
    measure home "$base/"
    measure product "$base/products/win11-pro"
    measure products "$base/api/v1/products"
  else
    R_home="0 0 0 0"; R_product="0 0 0 0"; R_products="0 0 0 0"
  fi
  add_keys "$engine" "$db_url"
  add_outlet "$engine" "$db_url"
  rm -f "$data"/orders.*
  # Own-stock and resale orders alternate run by run, so both meet the same
  # database size, queue and machine state; medians of each.
  local own=() resale=()
  for _ in $(seq 1 "$RUNS"); do
    export BENCH_ORDERS_OUT="$data/orders"
    RUNS=1 measure one "$base/api/v1/orders" bench/order.lua "$ORDER_SECS"
    unset BENCH_ORDERS_OUT
    own+=("$R_one")
    BENCH_SHOP=outlet BENCH_PRODUCT=video-vip-resale RUNS=1 measure one "$base/api/v1/orders" bench/order.lua "$ORDER_SECS"
    resale+=("$R_one")
  done
  R_orders=$(median_rows "${own[@]}")
  R_resale=$(median_rows "${resale[@]}")
  # Payment confirmation: each run pays a disjoint share of those orders.
  local tenant; tenant=$(sql "$engine" "$db_url" "SELECT id FROM tenants WHERE slug = 'demo'")
  local made; made=$(python3 bench/notify.py "$MASTER_KEY" "$tenant" "$data/notify" "$data"/orders.*)
  echo "$engine: $(cat "$data"/orders.* | wc -l) orders recorded, $made notifications signed" >&2
  python3 - "$data/notify" "$RUNS" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(); k = int(sys.argv[2])
for i in range(k):
    open(f"{sys.argv[1]}.{i + 1}", "w").write("\n".join(lines[i::k]) + "\n")
PY
  export NOTIFY_THREADS=2 PER_RUN="$data/notify"
  measure notify "$base/" bench/notify.lua "$NOTIFY_SECS"
  unset PER_RUN NOTIFY_LIST
  local paid; paid=$(sql "$engine" "$db_url" "SELECT count(*) FROM orders WHERE status = 'delivered'")
  local resold; resold=$(sql "$engine" "$db_url" "SELECT count(*) FROM orders WHERE stock_tenant_id IS NOT NULL")
  kill -TERM "$pid"; wait "$pid" || true
  local ceiling; ceiling=$(cut -d' ' -f1 <<<"$R_healthz")
  printf '\n%s (%s runs x %ss, %s connections; medians)\n' "$engine" "$RUNS" "$SECS" "$CONNS"
  printf '%-22s %12s %9s %9s %9s %10s\n' "endpoint" "req/s" "p50 ms" "p99 ms" "non-2xx" "vs healthz"
  for n in healthz home product products orders notify resale; do
    local v="R_$n"; read -r r a b bad <<<"${!v}"
    printf '%-22s %12.0f %9s %9s %9.0f %9.2f%%\n' "$n" "$r" "$a" "$b" "$bad" "$(python3 -c "print(100*$r/$ceiling)")"
  done
  local sent; sent=$(python3 -c "print(round(float('$(cut -d' ' -f1 <<<"$R_notify")') * $NOTIFY_SECS * $RUNS))")
  echo "notify: $made notifications signed for $RUNS runs, about $sent sent, $paid orders delivered"
  if [ "$sent" -gt "$made" ]; then echo "notify: WARNING the runs sent more than there were orders: raise ORDER_SECS"; fi
  echo "resale: $resold orders on the outlet hold the demo shop's keys; resale/own-stock orders = $(python3 -c "print(round(100*$(cut -d' ' -f1 <<<"$R_resale")/$(cut -d' ' -f1 <<<"$R_orders"), 1))")%"
  ORDERS_RPS=$(cut -d' ' -f1 <<<"$R_orders")
}

# median_rows "rps p50 p99 bad"... -> the median of each column
median_rows() {
  python3 -c "import statistics,sys; rows=[[float(x) for x in r.split()] for r in sys.argv[1:]]; print(' '.join(str(statistics.median(c)) for c in zip(*rows)))" "$@"
}

# sql ENGINE URL QUERY -> first column of the first row
sql() {
  if [ "$1" = postgres ]; then psql "$2" -qtAc "$3"
  else python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/sqlite/kapu.db" "$3"; fi
}

# add_keys ENGINE URL: eight more copies of the order product's available
# keys (same sealed values, new ids and fingerprints), so that the order runs
# never run out. Only a benchmark may do this: real keys are unique.
add_keys() {
  if [ "$1" = postgres ]; then
    pg_add_keys "$2" 8
  else
    python3 - "$work/sqlite/kapu.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
c.execute("""WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 8)
  INSERT INTO card_keys (tenant_id, id, product_id, ciphertext, nonce, fingerprint, status, created_at)
  SELECT k.tenant_id, lower(hex(randomblob(16))), k.product_id, k.ciphertext, k.nonce, k.fingerprint || '-' || g.n,
         'available', k.created_at
  FROM card_keys k, g WHERE k.product_id = 'video-vip-month' AND k.status = 'available'""")
c.commit()
PY
  fi
}

# add_outlet ENGINE URL: a second shop, "outlet" (a copy of the demo shop's
# row and channels), selling video-vip-month from the demo shop's stock at
# a wholesale price of 10.00 as its product video-vip-resale.
add_outlet() {
  local script="
    CREATE TEMP TABLE outlet_t AS SELECT * FROM tenants WHERE slug = 'demo';
    UPDATE outlet_t SET id = 'benchoutlet000000000000000000000', slug = 'outlet', name = 'Bench outlet';
    INSERT INTO tenants SELECT * FROM outlet_t;
    CREATE TEMP TABLE outlet_c AS SELECT * FROM channel_configs WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'demo');
    UPDATE outlet_c SET tenant_id = 'benchoutlet000000000000000000000';
    INSERT INTO channel_configs SELECT * FROM outlet_c;
    CREATE TEMP TABLE outlet_p AS SELECT * FROM products WHERE id = 'video-vip-month';
    UPDATE outlet_p SET supply_tenant_id = tenant_id, supply_product_id = id, category_id = NULL,
      tenant_id = 'benchoutlet000000000000000000000', id = 'video-vip-resale';
    INSERT INTO products SELECT * FROM outlet_p;
    INSERT INTO supply_listings (tenant_id, product_id, wholesale_minor, audience, exact_stock, open, created_at, updated_at)
      SELECT tenant_id, id, 1000, 'any', false, true, created_at, created_at FROM products WHERE id = 'video-vip-month';"
  if [ "$1" = postgres ]; then psql "$2" -qc "$script" >/dev/null
  else python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); c.executescript(sys.argv[2]); c.commit()" "$work/sqlite/kapu.db" "$script"; fi
}

# order_shape URL TENANT LANES -> tps of bench/pgbench/order_shape.sql
order_shape() {
  pgbench -n -M prepared -c "$CONNS" -j 2 -T "$ORDER_SECS" -D tenant="$2" -D lanes="$3" \
    -f bench/pgbench/order_shape.sql "$1" 2>/dev/null | awk '/^tps/ {print $3}'
}

# pgbench_ceilings URL: the commit ceiling (simple-update on pgbench's own
# tables) and the order's shape on Kapu's tables (head and lanes), medians.
pgbench_ceilings() {
  local url=$1 tenant
  local pgb="kapu_bench_pgb_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $pgb" >/dev/null
  pgbench -i -q -s 16 "${PG_URL%/*}/$pgb" >/dev/null 2>&1
  tenant=$(psql "$url" -qtAc "SELECT id FROM tenants WHERE slug = 'demo'")
  # One lane starting before every key (first available key), and 32 lanes
  # over the product's available keys (Kapu's allocator).
  psql "$url" -qc "DROP TABLE IF EXISTS bench_lanes;
    CREATE TABLE bench_lanes AS SELECT 1 AS lanes, 0::bigint AS lane, ''::varchar AS start;
    INSERT INTO bench_lanes SELECT 32, row_number() OVER (ORDER BY id) - 1, id FROM (
      SELECT id, row_number() OVER (ORDER BY id) AS n FROM card_keys
      WHERE product_id = 'video-vip-month' AND status = 'available') s
    WHERE (n - 1) % GREATEST(1, (SELECT count(*) / 32 FROM card_keys WHERE product_id = 'video-vip-month' AND status = 'available')) = 0
    ORDER BY id LIMIT 32" >/dev/null
  local su=() head=() lanes=()
  for _ in $(seq 1 "$RUNS"); do
    su+=("$(pgbench -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -b simple-update "${PG_URL%/*}/$pgb" 2>/dev/null | awk '/^tps/ {print $3}')")
    head+=("$(order_shape "$url" "$tenant" 1)")
    lanes+=("$(order_shape "$url" "$tenant" 32)")
  done
  psql "$PG_URL" -qc "DROP DATABASE $pgb WITH (FORCE)" >/dev/null
  local m_su m_head m_lanes
  m_su=$(median "${su[@]}"); m_head=$(median "${head[@]}"); m_lanes=$(median "${lanes[@]}")
  printf '\npgbench on the same server (%s clients; medians of %s runs)\n' "$CONNS" "$RUNS"
  printf '%-34s %10.0f tps   Kapu orders = %5.1f%%\n' "simple-update (commit ceiling)" "$m_su" "$(python3 -c "print(100*$ORDERS_RPS/$m_su)")"
  printf '%-34s %10.0f tps   Kapu orders = %5.1f%%\n' "order shape, first available key" "$m_head" "$(python3 -c "print(100*$ORDERS_RPS/$m_head)")"
  printf '%-34s %10.0f tps   Kapu orders = %5.1f%%\n' "order shape, random lane start" "$m_lanes" "$(python3 -c "print(100*$ORDERS_RPS/$m_lanes)")"
}

echo "machine: $(nproc) cores; wrk -t2 -c$CONNS; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
bench_engine sqlite "sqlite://$work/sqlite/kapu.db?mode=rwc"
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  name="kapu_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $name" >/dev/null
  bench_engine postgres "${PG_URL%/*}/$name"
  pgbench_ceilings "${PG_URL%/*}/$name"
  psql "$PG_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
else
  echo "PostgreSQL not reachable on 127.0.0.1:5432: skipped"
fi
