"""What every benchmark needs around the thing it measures: JSON lines out, a free port,
the real server started and awaited, latency percentiles, work spread over client threads,
the longest collector pause, a TAK client certificate, and enough file descriptors.
Benchmarks import it as ``from harness import ...`` (they run as scripts from ``bench/``)."""

from __future__ import annotations

import http.client
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The service's command line, as the benchmarks run it.
CLI = (sys.executable, "-m", "deconfliction")


def emit(**fields: Any) -> None:
    """One figure: a JSON object on its own line."""
    print(json.dumps(fields), flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(lat: list[float]) -> dict[str, float]:
    """Samples, p50, p99 and max of latencies in seconds, reported in milliseconds."""
    s = sorted(lat)
    return {
        "samples": len(s),
        "p50_ms": round(s[len(s) // 2] * 1000, 2),
        "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 2),
        "max_ms": round(s[-1] * 1000, 2),
    }


class GcWatch:
    """Longest garbage-collection pause seen while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.longest_ms = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.longest_ms = max(self.longest_ms, (time.perf_counter() - self._start) * 1e3)


def run_threads(threads: Sequence[threading.Thread]) -> float:
    """Start every thread, then wait for them all; the wall-clock seconds."""
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0


def spread(
    items: Sequence[T], clients: int, make: Callable[[int], Callable[[T], R]]
) -> tuple[list[R], list[float], float]:
    """``items`` shared round-robin over ``clients`` threads, thread ``k`` with its own
    worker ``make(k)`` (its own connection); the results and latencies (seconds) in item
    order, and the wall-clock seconds of the whole. A worker's exception is raised here."""
    results: list[Any] = [None] * len(items)
    latency = [0.0] * len(items)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            one = make(k)
            for i in range(k, len(items), clients):
                t0 = time.perf_counter()
                results[i] = one(items[i])
                latency[i] = time.perf_counter() - t0
        except BaseException as exc:  # reported, never hidden
            errors.append(exc)

    elapsed = run_threads([threading.Thread(target=work, args=(k,)) for k in range(clients)])
    if errors:
        raise errors[0]
    return results, latency, elapsed


def raise_fd_limit() -> None:
    """Many connections need many descriptors: the soft limit up to the hard one (a server
    started afterwards inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_server(
    data_dir: Path,
    database_url: str | None = None,
    extra: Sequence[str] = (),
    *,
    tls_port: int = 0,
    log: Path | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """``deconfliction serve`` on a free port (rate limit off; the TAK TLS listener on
    ``tls_port``, 0 = off; other flags in ``extra``), once ``/v1/ready`` answers; its
    output to ``log`` (else dropped); the environment's ``DECONFLICTION_*`` settings are
    not passed on."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICTION_")}
    url_args = ["--database-url", database_url] if database_url else []
    args = [
        *CLI,
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *url_args,
        "--cot-tls-port",
        str(tls_port),
        "--check-rate-limit",
        "0",
        *extra,
    ]
    if log is None:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    else:
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    wait_ready(proc, port, log)
    return proc, port


def wait_ready(proc: subprocess.Popen[Any], port: int, log: Path | None = None) -> None:
    """Until ``/v1/ready``; stops if the server exits (with the end of its ``log``) or
    reports that loading failed."""
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/ready")
            response = conn.getresponse()
            body = response.read()
            if response.status == 200:
                return
            if b"index_unavailable" in body:  # the load failed: waiting will not help
                proc.kill()
                raise SystemExit(f"the server could not load: {body.decode()}")
        except OSError:
            pass
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
            raise SystemExit(f"the server exited\n{tail}".rstrip())
        time.sleep(0.1)


def issue_client(data_dir: Path, unit: str, out: Path) -> ssl.SSLContext:
    """A TAK client certificate for ``unit`` (``deconfliction tak issue-client``), as a
    TLS context that trusts the server's CA."""
    subprocess.run(
        [
            *CLI,
            "tak",
            "issue-client",
            "--unit",
            unit,
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    context = ssl.create_default_context(cafile=str(out / "ca.pem"))
    context.load_cert_chain(out / f"{unit}.pem", out / f"{unit}.key.pem")
    return context
