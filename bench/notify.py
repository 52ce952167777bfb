#!/usr/bin/env python3
"""Signs sandbox payment notifications for orders the order benchmark created.

Usage: notify.py MASTER_KEY_B64 TENANT_ID OUT_LIST ORDERS_FILE...
Each ORDERS_FILE line is "pay_url amount_minor currency" (bench/order.lua);
OUT_LIST gets "path body" lines for bench/notify.lua, in a shuffled order.
The signature is Kapu's sandbox protocol: HMAC-SHA256 under the tenant's
sandbox key, which is HKDF-SHA256(master key, salt "kapu/v1",
info "sandbox-notify:<tenant id>").
"""
import base64, hashlib, hmac, random, sys, urllib.parse

master = base64.b64decode(sys.argv[1])
tenant = sys.argv[2]
out = sys.argv[3]

def hkdf(ikm, salt, info, length=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]

key = hkdf(master, b"kapu/v1", f"sandbox-notify:{tenant}".encode())
lines = []
for name in sys.argv[4:]:
    for row in open(name):
        parts = row.split()
        if len(parts) != 3:
            continue
        pay_url, amount, currency = parts
        # The pay URL carries the order token as a query (`/pay/sandbox/{id}?token=…`).
        payment_id = pay_url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[1]
        text = f"amount_minor={amount}&currency={currency}&outcome=paid&payment_id={payment_id}"
        sign = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        body = urllib.parse.urlencode({"payment_id": payment_id, "outcome": "paid", "amount_minor": amount,
                                       "currency": currency, "sign": sign})
        lines.append(f"/api/v1/payments/{payment_id}/notify {body}")
random.shuffle(lines)
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
print(len(lines))
