#!/usr/bin/env python3
"""Memory of password hashing: signs up N merchants on a fresh server (each
sign-up hashes a password with argon2id, 19 MiB) from CONCURRENCY clients at
once and prints the server's resident memory before, during and after.

    python3 bench/signups.py target/release/kapu [N=1000] [CONCURRENCY=8]

Runs the binary on a SQLite file in a temporary directory (the hashing is
the same on PostgreSQL).
"""
import concurrent.futures
import http.cookiejar
import os
import re
import sys
import time
import urllib.parse
import urllib.request

from kapu_server import KapuServer


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_up(base, i):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{base}/signup", timeout=60).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrf": csrf, "email": f"bench-{i}-{os.getpid()}@example.com", "password": "correct horse battery"}
    ).encode()
    # Each sign-up from its own client (sign-ups are limited per client
    # address); the server believes X-Forwarded-For from loopback here.
    client = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    req = urllib.request.Request(f"{base}/signup", data=form, headers={"Origin": base, "X-Forwarded-For": client})
    try:
        opener.open(req, timeout=120)
        return 200
    except urllib.error.HTTPError as e:
        return e.code


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    conc = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    with KapuServer(binary, env={"KAPU_TRUSTED_PROXIES": "127.0.0.1/32"}) as server:
        base = f"http://localhost:{server.port}"
        print(f"{n} sign-ups, {conc} at once; RSS of the server:")
        print(f"  started                  {rss_mb(server.pid):7.0f} MB")
        started = time.time()
        done, peak, marks = 0, 0.0, {30, 100, 300, n}
        statuses = {}
        with concurrent.futures.ThreadPoolExecutor(conc) as pool:
            for status in pool.map(lambda i: sign_up(base, i), range(n)):
                done += 1
                statuses[status] = statuses.get(status, 0) + 1
                peak = max(peak, rss_mb(server.pid))
                if done in marks:
                    print(f"  after {done:5d} sign-ups     {rss_mb(server.pid):7.0f} MB")
        took = time.time() - started
        time.sleep(5)
        print(f"  5 s later                {rss_mb(server.pid):7.0f} MB (peak {peak:.0f} MB)")
        print(f"  {n / took:.1f} sign-ups/s; answers: {statuses}")


if __name__ == "__main__":
    main()
