"""A real server in a subprocess on a free port, and what tests need around it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from deconfliction.service import auth
from deconfliction.store import Store, open_store
from tests.support import backends

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m deconfliction serve`` on a free port with its own data directory (and,
    on the postgres pass, the data directory's own database: ``tests/support/backends.py``)."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        # The CoT TLS listener (8089 by default) is off unless a test asks for it, so that
        # servers started in parallel do not compete for the port.
        self.env = {
            "DECONFLICTION_COT_TLS_PORT": "0",
            # serve limits checks per unit by default; tests that need it set it.
            "DECONFLICTION_CHECK_RATE_LIMIT": "0",
            **backends.env_for(data_dir),
            **(env or {}),
        }
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICTION_")}
        env.update(self.env)
        log = self.log_path.open("a", encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "deconfliction",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)
        self.wait_healthy()
        if wait_ready:
            self.wait_ready()
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if httpx.get(self.url + "/v1/ready", timeout=2.0).status_code == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"index not ready:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


@contextmanager
def store_at(data_dir: Path) -> Iterator[Store]:
    """The store of ``data_dir`` on the test backend, as a server started on it opens it."""
    store = open_store(data_dir, backends.database_url(data_dir))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def raw_sql(data_dir: Path) -> Iterator[Any]:
    """A connection to ``data_dir``'s store that bypasses the service and its constraints
    (foreign keys off): what an intruder with the database's credentials has."""
    url = backends.database_url(data_dir)
    if url is None:
        conn = sqlite3.connect(data_dir / "deconfliction.sqlite3")
        try:
            conn.execute("PRAGMA foreign_keys = OFF")
            yield conn
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:
        pg.execute("SET session_replication_role = replica")  # no foreign key triggers
        yield pg


def issue(data_dir: Path, role: str, unit: str | None = None, ttl_s: float | None = None) -> str:
    """A token issued straight into the store (as ``deconfliction token issue`` does)."""
    with store_at(data_dir) as store:
        ttl = timedelta(seconds=ttl_s) if ttl_s is not None else None
        token, _ = auth.issue(store, role, unit, ttl)
    return token


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """``python -m deconfliction *args``; with ``--data-dir D``, on D's store (test backend)."""
    backend_env: dict[str, str] = {}
    if "--data-dir" in args[:-1]:
        backend_env = backends.env_for(Path(args[args.index("--data-dir") + 1]))
    return subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **backend_env, **(env or {})},
        timeout=timeout,
        check=False,
    )
