-- The order's shape without Kapu, in one transaction: pick an available key
-- of the product from a lane start, reserve it, write the order, its payment
-- attempt and its expiry job. Run with -D lanes=1 (one lane starting at '':
-- every client picks the first available key) or -D lanes=32 (a random one
-- of 32 lane starts, as Kapu's allocator does); bench/run.sh fills
-- bench_lanes for both, so the two runs differ in nothing else.
\set n random(1, 1000000000)
\set lane random(0, :lanes - 1)
BEGIN;
SELECT start FROM bench_lanes WHERE lanes = :lanes AND lane = :lane \gset
WITH picked AS MATERIALIZED (
   SELECT id FROM card_keys WHERE tenant_id = :tenant AND product_id = 'video-vip-month' AND status = 'available'
   AND id >= :start ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
UPDATE card_keys SET status = 'reserved', order_id = 'pg' || :client_id || '-' || :n FROM picked
 WHERE card_keys.tenant_id = :tenant AND card_keys.id = picked.id AND card_keys.status = 'available';
INSERT INTO orders (tenant_id, id, order_no, product_id, product_name, quantity, unit_price_minor, amount_minor,
  currency, email, status, channel, client_ip, client_net, locale, base_url, expires_at, created_at, updated_at, discount_minor)
 VALUES (:tenant, 'pg' || :client_id || '-' || :n, 'pg' || :client_id || '-' || :n, 'video-vip-month', 'bench', 1,
  1500, 1500, 'CNY', 'pgbench@example.com', 'pending', 'sandbox', '10.0.0.1', '10.0.0.1', 'en', 'http://bench',
  now() + interval '15 minutes', now(), now(), 0);
INSERT INTO payments (tenant_id, id, order_id, channel, status, amount_minor, currency, calls, checks, created_at, updated_at)
 VALUES (:tenant, 'pp' || :client_id || '-' || :n, 'pg' || :client_id || '-' || :n, 'sandbox', 'created', 1500, 'CNY', 0, 0, now(), now());
INSERT INTO jobs (tenant_id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
 VALUES (:tenant, 'expire_order', '{}', 'queued', 0, 5, now() + interval '15 minutes', now(), now());
END;
