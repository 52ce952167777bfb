#!/usr/bin/env bash
# Ten thousand shops on one storefront process (PostgreSQL): SHOPS shops are
# provisioned as SQL copies of the demo shop (its categories and products,
# new ids and slugs s00000 …), then home pages are loaded across random
# shop hosts at CONNS connections, over a growing set of shops (a quarter,
# half, all, then all again). After each phase: requests/s, p50/p99 and the
# process's resident memory, so that a cache growing with the shops seen
# shows as RSS that keeps climbing.
#
#   bash bench/tenants.sh            # SHOPS=10000 CONNS=64 SECS=15
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPS=${SHOPS:-10000}
CONNS=${CONNS:-64}
SECS=${SECS:-15}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
source bench/lib.sh
work=$(mktemp -d)
pgdb="kapu_bench_tenants_$$"
pid=""
cleanup() {
  [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$PG_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
DB_URL="${PG_URL%/*}/$pgdb"
PORT=$(free_port)
KAPU_DATA_DIR="$work" KAPU_DATABASE_URL="$DB_URL" KAPU_MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
  KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_SHOP_RATE_LIMITS=false RUST_LOG=warn \
  "$BIN" serve --demo --listen "127.0.0.1:$PORT" >>"$work/kapu.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done

started=$(date +%s)
psql "$DB_URL" -q <<SQL
CREATE TEMP TABLE base AS SELECT * FROM tenants WHERE slug = 'demo';
INSERT INTO tenants SELECT (jsonb_populate_record(b, jsonb_build_object(
    'id', 'bt' || lpad(g::text, 14, '0'), 'slug', 's' || lpad(g::text, 5, '0'), 'name', 'Shop ' || g))).*
  FROM base b, generate_series(0, $SHOPS - 1) g;
CREATE TEMP TABLE cats AS SELECT * FROM categories WHERE tenant_id = (SELECT id FROM base);
INSERT INTO categories SELECT (jsonb_populate_record(c, jsonb_build_object('tenant_id', 'bt' || lpad(g::text, 14, '0')))).*
  FROM cats c, generate_series(0, $SHOPS - 1) g;
CREATE TEMP TABLE prods AS SELECT * FROM products WHERE tenant_id = (SELECT id FROM base);
INSERT INTO products SELECT (jsonb_populate_record(p, jsonb_build_object('tenant_id', 'bt' || lpad(g::text, 14, '0')))).*
  FROM prods p, generate_series(0, $SHOPS - 1) g;
ANALYZE;
SQL
products=$(psql "$DB_URL" -qtAc "SELECT count(*) FROM products")
echo "machine: $(nproc) cores; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $SHOPS shops ($products products) provisioned in $(( $(date +%s) - started )) s"
curl -sf -o /dev/null -H "Host: s00001.localhost:$PORT" "http://127.0.0.1:$PORT/" || { echo "a provisioned shop does not answer" >&2; exit 1; }

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$pid/status"; }
printf '\n%-26s %10s %9s %9s %9s\n' "home pages over" "req/s" "p50 ms" "p99 ms" "RSS MB"
printf '%-26s %10s %9s %9s %9s\n' "(started, demo only)" "" "" "" "$(rss_mb)"
for n in $((SHOPS / 4)) $((SHOPS / 2)) "$SHOPS" "$SHOPS"; do
  out=$(SHOPS=$n PORT=$PORT wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/tenants.lua "http://127.0.0.1:$PORT/")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-26s %10.0f %9s %9s %9s%s\n' "$n shops" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")" "$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")" "$(rss_mb)" \
    "${non2xx:+  ($non2xx non-2xx)}"
done
