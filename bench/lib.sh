# Helpers shared by the benchmark scripts (sourced, not run).

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

# BIN: KAPU_BENCH_BIN (an existing build, e.g. an older commit's, not built
# here), else a release build of this checkout.
if [ -n "${KAPU_BENCH_BIN:-}" ]; then
  BIN=$KAPU_BENCH_BIN
else
  cargo build --release --quiet
  BIN=target/release/kapu
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# to_ms 1.23us|4.5ms|1.2s -> milliseconds
to_ms() { python3 -c "
import re,sys; v=sys.argv[1]; m=re.match(r'([0-9.]+)(us|ms|s)',v)
n,u=float(m.group(1)),m.group(2); print(round(n/1000 if u=='us' else n*1000 if u=='s' else n,3))" "$1"; }

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# pg_add_keys URL COPIES: COPIES more copies of the order product's available
# keys (same sealed values, new ids and fingerprints), so that order runs
# never run out. Only a benchmark may do this: real keys are unique.
pg_add_keys() {
  psql "$1" -qc "INSERT INTO card_keys (tenant_id, id, product_id, ciphertext, nonce, fingerprint, status, created_at)
    SELECT k.tenant_id, md5(k.id || g), k.product_id, k.ciphertext, k.nonce, md5(k.fingerprint || g), 'available', now()
    FROM card_keys k, generate_series(1, $2) g WHERE k.product_id = 'video-vip-month' AND k.status = 'available'; ANALYZE card_keys"
}
