#!/usr/bin/env python3
"""Key-import benchmark: imports N card keys through the merchant dashboard of a
release `kapu serve` and prints how long the import took, plus storefront
home-page latency (median, p99) measured before and during the import.

Usage: python3 bench/import.py [target/release/kapu] [N=100000]
Set KAPU_DATABASE_URL/KAPU_MASTER_KEY in the environment to run on PostgreSQL.
"""
import email, glob, http.cookiejar, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.parse, urllib.request

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/kapu"
n_keys = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

port = free_port()
data = tempfile.mkdtemp(prefix="kapu-bench-")
env = dict(os.environ, KAPU_DATA_DIR=data, KAPU_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn",
           KAPU_RATE_LIMIT_PER_SECOND="100000", KAPU_RATE_LIMIT_BURST="100000")
server = subprocess.Popen([binary, "serve", "--demo"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://localhost:{port}"

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None

jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

def req(path, data=None, headers=None, host=None):
    url = path if path.startswith("http") else base + path
    r = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None: r.add_header("Origin", base)
    try:
        resp = opener.open(r, timeout=120)
        return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()

def csrf():
    for page in ("/login", "/shops"):  # /login redirects once signed in
        _, _, body = req(page)
        m = re.search(r'name="csrf" value="([^"]+)"', body)
        if m: return m.group(1)
    raise RuntimeError("no CSRF token found")

def post(path, fields):
    fields = dict(fields, csrf=csrf())
    return req(path, urllib.parse.urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"})

def shop_get(path):
    # *.localhost resolves to loopback in browsers, not in glibc: connect to 127.0.0.1 with the Host header.
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"bench.localhost:{port}"})
    t = time.perf_counter()
    urllib.request.urlopen(r, timeout=30).read()
    return time.perf_counter() - t

try:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1); break
        except Exception: time.sleep(0.1)
    post("/signup", {"email": "bench@example.com", "password": "benchmark password"})
    link = None
    for _ in range(100):
        for f in glob.glob(os.path.join(data, "outbox", "*.eml")):
            body = email.message_from_file(open(f)).get_payload(decode=True)
            m = re.search(rb"http://\S+/verify\?token=\S+", body or b"")
            if m: link = m.group(0).decode()
        if link: break
        time.sleep(0.1)
    req(link)
    post("/shops", {"name": "Bench", "slug": "bench"})
    _, h, _ = post("/shops/bench/products/new", {"name": "Bench key", "price": "1", "min_qty": "1", "max_qty": "10",
                                                   "sort_order": "0", "low_stock_threshold": "5", "visible": "1"})
    product = h["location"].split("/")[4]
    baseline = [shop_get("/") for _ in range(300)]

    keys = "".join(f"BENCH-{i:09d}-KEY\n" for i in range(n_keys)).encode()
    boundary = "kapubench"
    parts = []
    for name, value in (("csrf", csrf().encode()), ("delimiter", b"newline"), ("text", keys)):
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode() + value + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    t0 = time.perf_counter()
    status, h, _ = req(f"/shops/bench/products/{product}/keys", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 303, status
    loc = h["location"]
    during, done = [], threading.Event()
    def load():
        # One buyer at a time, back to back, a page every 10 ms.
        while not done.is_set():
            during.append(shop_get("/")); time.sleep(0.01)
    th = threading.Thread(target=load); th.start()
    while True:
        _, _, js = req(loc + ".json")
        if '"running"' not in js: break
        time.sleep(0.05)
    took = time.perf_counter() - t0
    done.set(); th.join()
    imported = re.search(r'"imported":(\d+)', js).group(1)
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))] * 1000
    print(f"import of {n_keys} keys: {took:.2f} s ({int(n_keys / took)} keys/s), imported={imported}")
    print(f"storefront home before: median {statistics.median(baseline)*1000:.2f} ms, p99 {q(baseline, .99):.2f} ms (n={len(baseline)})")
    if during:
        print(f"storefront home during: median {statistics.median(during)*1000:.2f} ms, p99 {q(during, .99):.2f} ms (n={len(during)}), "
              f"median ratio {statistics.median(during)/statistics.median(baseline):.2f}x")
finally:
    server.terminate(); server.wait()
    shutil.rmtree(data, ignore_errors=True)
