"""A Kapu server for a benchmark or attack script: the given binary on a
free loopback port with a SQLite file in a temporary directory, started and
waited for (`/healthz`), stopped on leaving the `with` block.

    with KapuServer("target/release/kapu", demo=True, env={...}) as s:
        s.port, s.data_dir, s.pid
"""
import os
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class KapuServer:
    def __init__(self, binary, demo=False, env=None):
        self.binary, self.demo, self.extra_env = binary, demo, env or {}

    def __enter__(self):
        self._dir = tempfile.TemporaryDirectory()
        self.data_dir = self._dir.name
        self.port = free_port()
        env = dict(os.environ, KAPU_DATA_DIR=self.data_dir, RUST_LOG="warn", **self.extra_env)
        # The embedded default: no database or Redis from the caller's shell.
        env.pop("KAPU_DATABASE_URL", None)
        env.pop("KAPU_REDIS_URL", None)
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"] + (["--demo"] if self.demo else [])
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except Exception:
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.binary} did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        self._dir.cleanup()
        return False
