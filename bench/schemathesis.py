#!/usr/bin/env python3
"""Generated API attacks: runs schemathesis against both OpenAPI documents
of a fresh server: the storefront API of the demo shop, and the merchant API
with a key made the way a merchant makes one (sign up, verify, open a shop,
create a write key on the dashboard).

    python3 bench/schemathesis.py target/debug/kapu [MAX_EXAMPLES=100] [SEED]

A SEED makes the run repeatable (CI passes one, so a failure there is a
failure of the change, not of the draw); without one each run draws anew.

Every check runs except "schema-valid data is accepted": the server
rightly refuses data whose validity depends on the shop (a product's
quantity bounds, an address that cannot receive keys, a provider's
signature), which JSON Schema cannot state. Exit status 1 on any failure
(a 5xx, a response outside the documented schema, an undocumented status).
"""
import email
import glob
import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from kapu_server import KapuServer


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def get(opener, url):
    try:
        return opener.open(url, timeout=60).read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def post(opener, base, path, fields):
    """Posts a dashboard form the way its page does: CSRF token and Origin."""
    page = get(opener, f"{base}{path}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(dict(fields, csrf=csrf)).encode()
    req = urllib.request.Request(f"{base}{path}", data=data, headers={"Origin": base})
    try:
        r = opener.open(req, timeout=60)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def verification_link(outbox):
    for path in sorted(glob.glob(os.path.join(outbox, "*.eml")), key=os.path.getmtime):
        msg = email.message_from_bytes(open(path, "rb").read())
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                m = re.search(r"(http://\S+/verify\?token=\S+)", part.get_payload(decode=True).decode())
                if m:
                    return m.group(1)
    return None


def schemathesis(schema_url, base, headers, max_examples, workdir, seed):
    # As a module: the `st` script may not be on PATH right after pip installs it.
    args = [sys.executable, "-m", "schemathesis.cli", "run", schema_url, "--url", base, "--checks", "all",
            "--exclude-checks", "positive_data_acceptance", "--max-examples", str(max_examples)]
    for h in headers:
        args += ["-H", h]
    if seed:
        args += ["--seed", seed]
    shown = ["st"] + args[3:]
    print("$", " ".join(a if "kapu_sk_" not in a else "Authorization: Bearer kapu_sk_…" for a in shown), flush=True)
    # Its cache and reports go to the temporary directory, not the checkout.
    return subprocess.run(args, cwd=workdir).returncode


def main():
    binary = sys.argv[1]
    max_examples = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    seed = sys.argv[3] if len(sys.argv) > 3 else None
    with KapuServer(binary, demo=True) as server:
        port, work = server.port, server.data_dir
        base = f"http://localhost:{port}"
        raw = f"http://127.0.0.1:{port}"
        # The attack makes thousands of calls a minute: lift the default
        # plan's API quota (its 429 is documented and tested elsewhere), or
        # most operations would only ever meet the limiter.
        import sqlite3
        with sqlite3.connect(os.path.join(work, "kapu.db")) as db:
            db.execute("UPDATE plans SET api_requests_per_minute = NULL")
        # A merchant with a shop and a write key.
        b = browser()
        status, _ = post(b, base, "/signup", {"email": "schema@example.com", "password": "correct horse battery"})
        assert status == 303, status
        link = None
        for _ in range(100):
            link = verification_link(os.path.join(work, "outbox"))
            if link:
                break
            time.sleep(0.1)
        assert link, "verification email"
        get(b, link)
        status, _ = post(b, base, "/shops", {"name": "Schema shop", "slug": "schema"})
        assert status == 303, status
        status, page = post(b, base, "/shops/schema/api-keys", {"name": "schemathesis", "scope": "write"})
        assert status == 200, status
        key = re.search(r'id="api-key-secret">([^<]+)<', page).group(1)

        failed = 0
        print("\n== storefront API (demo shop) ==", flush=True)
        failed |= schemathesis(f"{raw}/api/v1/openapi.json", raw, [f"Host: demo.localhost:{port}"], max_examples, work, seed)
        print("\n== merchant API ==", flush=True)
        failed |= schemathesis(f"{raw}/api/merchant/v1/openapi.json", f"{raw}/api/merchant/v1",
                               [f"Host: localhost:{port}", f"Authorization: Bearer {key}"], max_examples, work, seed)
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
