#!/usr/bin/env bash
# How long a merchant's template override can hold a thread: the time a
# render takes to spend each fuel budget (the sandbox stops it there).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release -p kapu-themes --example fuel_cost
