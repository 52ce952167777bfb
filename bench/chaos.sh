#!/usr/bin/env bash
# The long crash drill: the real server killed with SIGKILL KILLS times at
# random moments while buyers order and pay and a script imports keys, then
# every promise checked (see kapu/tests/it/crash_safety.rs). Prints the
# drill's counts; exit status 1 if any promise broke.
#   bash bench/chaos.sh 200                      # SQLite
#   KAPU_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
#     bash bench/chaos.sh 1000                   # PostgreSQL
# About 1.5 s per kill on average (0.2–1.5 s between kills, plus restarts).
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
filter='test(killed_at_random_the_server_loses_no_paid_order_and_sells_no_key_twice)'
cargo nextest run --workspace --profile drill --no-run
# The drill restarts a copy of the binary: rebuilding the checkout meanwhile
# cannot replace it mid-drill.
bin=$(mktemp -d)/kapu
cp target/debug/kapu "$bin"
log=$(mktemp)
status=0
KAPU_TEST_BIN=$bin KAPU_CHAOS_KILLS=$kills cargo nextest run --workspace --profile drill --no-capture -E "$filter" \
  >"$log" 2>&1 || status=$?
grep -E '^[0-9]+ kills:|PASS|FAIL' "$log" || true
if [ "$status" -ne 0 ]; then grep -v '^ *[0-9]*: \|^ *at ' "$log" | grep -A 20 panicked | head -n 60; fi
rm -rf "$(dirname "$bin")" "$log"
exit "$status"
