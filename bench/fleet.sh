#!/usr/bin/env bash
# Kapu as a fleet against one process, in the same run, on PostgreSQL:
#   single:        one `kapu serve` (role all), no Redis: the baseline;
#   single+redis:  the same process with Redis (every storefront request
#                  takes its per-client and shop limits in one Lua call);
#   fleet:         Caddy (round robin) in front of 2 storefront processes on
#                  Redis, with a worker process running the jobs.
# For each: the demo shop's home page, the products JSON and order
# creation (wrk, CONNS connections, SECS seconds, medians of RUNS), then
# the shared limiter's cost per request: products JSON p50 at one
# connection with and without Redis.
#
#   bash bench/fleet.sh                       # release build of this checkout
#   KAPU_BENCH_BIN=path/to/kapu bash bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-8}
RUNS=${RUNS:-3}
CONNS=${CONNS:-64}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
command -v caddy >/dev/null || { echo "caddy is needed: apt-get install caddy" >&2; exit 1; }
source bench/lib.sh
work=$(mktemp -d)
pgdb="kapu_bench_fleet_$$"
prefix="kapu-bench-$$:"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$prefix*" 2>/dev/null | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$PG_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
DB_URL="${PG_URL%/*}/$pgdb"
MASTER=$(head -c 32 /dev/urandom | base64)

# kapu ROLE PORT REDIS(0|1) [--demo]: starts one process, waits for /healthz.
kapu() {
  local role=$1 port=$2 redis=$3 demo=${4:-}
  mkdir -p "$work/$port"
  env KAPU_DATA_DIR="$work/$port" KAPU_DATABASE_URL="$DB_URL" KAPU_MASTER_KEY="$MASTER" \
    KAPU_REDIS_URL="$([ "$redis" = 1 ] && echo "$REDIS_URL")" KAPU_REDIS_PREFIX="$prefix" \
    KAPU_RATE_LIMIT_PER_SECOND=10000000 KAPU_RATE_LIMIT_BURST=10000000 KAPU_SHOP_RATE_LIMITS=false \
    KAPU_TRUSTED_PROXIES=127.0.0.1/32 KAPU_MAX_UNPAID_ORDERS=1000000 RUST_LOG=warn \
    "$BIN" serve $demo --role "$role" --listen "127.0.0.1:$port" >>"$work/kapu-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.5; done
  echo "kapu $role did not start:" >&2; tail -20 "$work/kapu-$port.log" >&2; exit 1
}
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait "${pids[@]}" 2>/dev/null || true; pids=(); }

# measure PORT -> "home_rps home_p99 json_rps json_p99 order_rps order_p99" (medians)
wrk_one() { # PORT PATH CONNS [SCRIPT]
  local out
  out=$(wrk -t"$(( $3 < 2 ? 1 : 2 ))" -c"$3" -d"${SECS}s" --latency -H "Host: demo.localhost:$1" ${4:+-s "$4"} "http://127.0.0.1:$1$2")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")"
}
measure() {
  local port=$1 line=""
  for what in "/ " "/api/v1/products " "/api/v1/orders bench/order.lua"; do
    read -r path script <<<"$what"
    local r=() p=()
    for _ in $(seq 1 "$RUNS"); do
      read -r rps _ p99 < <(wrk_one "$port" "$path" "$CONNS" $script)
      r+=("$rps"); p+=("$p99")
    done
    line="$line $(median "${r[@]}") $(median "${p[@]}")"
  done
  echo "$line"
}
# p50 of the products JSON at one connection (the limiter's round trip shows here)
p50_one() {
  local v=()
  for _ in $(seq 1 "$RUNS"); do read -r _ p50 _ < <(wrk_one "$1" /api/v1/products 1); v+=("$p50"); done
  median "${v[@]}"
}

echo "machine: $(nproc) cores; PostgreSQL + Redis; kapu $(git rev-parse --short HEAD 2>/dev/null || echo '?'); ${CONNS} connections, ${SECS}s x ${RUNS} runs, medians"
P0=$(free_port)
kapu all "$P0" 0 --demo
pg_add_keys "$DB_URL" 8
read -r s_hr s_hp s_jr s_jp s_or s_op <<<"$(measure "$P0")"
s_p50=$(p50_one "$P0")
stop_all

kapu all "$P0" 1
read -r r_hr r_hp r_jr r_jp r_or r_op <<<"$(measure "$P0")"
r_p50=$(p50_one "$P0")
stop_all

P1=$(free_port); P2=$(free_port); PW=$(free_port); PC=$(free_port)
kapu storefront "$P1" 1; kapu storefront "$P2" 1; kapu worker "$PW" 1
cat >"$work/Caddyfile" <<CADDY
{
  admin off
  auto_https off
  storage file_system $work/caddy
}
http://:$PC {
  reverse_proxy 127.0.0.1:$P1 127.0.0.1:$P2 {
    lb_policy round_robin
  }
}
CADDY
HOME=$work XDG_DATA_HOME=$work XDG_CONFIG_HOME=$work caddy run --adapter caddyfile --config "$work/Caddyfile" >"$work/caddy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do curl -sf -H "Host: demo.localhost:$PC" "http://127.0.0.1:$PC/healthz" >/dev/null && break; sleep 0.5; done
read -r f_hr f_hp f_jr f_jp f_or f_op <<<"$(measure "$PC")"
stop_all

printf '\n%-34s %11s %9s %11s %9s %11s %9s\n' "" "home req/s" "p99 ms" "JSON req/s" "p99 ms" "orders/s" "p99 ms"
printf '%-34s %11.0f %9s %11.0f %9s %11.0f %9s\n' "single process, no Redis" "$s_hr" "$s_hp" "$s_jr" "$s_jp" "$s_or" "$s_op"
printf '%-34s %11.0f %9s %11.0f %9s %11.0f %9s\n' "single process, Redis" "$r_hr" "$r_hp" "$r_jr" "$r_jp" "$r_or" "$r_op"
printf '%-34s %11.0f %9s %11.0f %9s %11.0f %9s\n' "Caddy + 2 storefronts, Redis" "$f_hr" "$f_hp" "$f_jr" "$f_jp" "$f_or" "$f_op"
printf '\nfleet / single: home %.2f, JSON %.2f, orders %.2f\n' \
  "$(python3 -c "print($f_hr/$s_hr)")" "$(python3 -c "print($f_jr/$s_jr)")" "$(python3 -c "print($f_or/$s_or)")"
printf 'shared limiter per request: products JSON p50 at 1 connection %s ms without Redis, %s ms with: +%s ms\n' \
  "$s_p50" "$r_p50" "$(python3 -c "print(round($r_p50-$s_p50,3))")"
