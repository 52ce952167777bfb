#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECS seconds each (default 600), from
# the seed corpus in fuzz/seeds/<target> plus what earlier runs found
# (fuzz/corpus/<target>, not committed), and prints runs, executions per
# second and crashes. A crash leaves its input in fuzz/artifacts/<target>;
# each one found becomes a unit test. Exit status 1 if any target crashed.
#   bash bench/fuzz.sh          # the long run (70 minutes for 7 targets)
#   bash bench/fuzz.sh 30       # the smoke run CI does (with FUZZ_SEED set)
# FUZZ_SEED fixes libFuzzer's random seed, so a short run explores alike
# each time; without it each run draws anew. FUZZ_TARGETS="money hosts"
# runs only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# No sanitizer: the targets are safe Rust, and the stable toolchain has none;
# libFuzzer's coverage guidance and the targets' own assertions remain.
cargo fuzz build --sanitizer none -O
crashed=0
printf '%-16s %10s %10s  %s\n' target runs "runs/s" result
for t in ${FUZZ_TARGETS:-$(cargo fuzz list)}; do
  mkdir -p "fuzz/corpus/$t"
  log=$(mktemp)
  if cargo fuzz run --sanitizer none -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
      >"$log" 2>&1; then
    result="0 crashes"
  else
    result="CRASH (input in fuzz/artifacts/$t)"
    crashed=1
    tail -n 40 "$log"
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' | tail -n 1 || true)
  rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || true)
  printf '%-16s %10s %10s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$result"
  rm -f "$log"
done
exit "$crashed"
