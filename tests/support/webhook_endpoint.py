"""A real HTTP endpoint on loopback that records the webhooks it receives, and the
operator's allow-list that lets a server deliver to it (webhooks and credentials tests)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

#: The endpoints of these tests are on loopback: the operator's allow-list lets them through.
ALLOW_LOOPBACK = {"DECONFLICTION_WEBHOOK_ALLOW": "127.0.0.0/8"}


class Endpoint:
    """A real HTTP endpoint that records every POST and answers from a script."""

    def __init__(self, failures: int = 0, redirect_to: str | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with endpoint.lock:
                    endpoint.received.append((dict(self.headers), body))
                    fail = endpoint.failures > 0
                    if fail:
                        endpoint.failures -= 1
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def delivered(self) -> dict[str, dict[str, Any]]:
        """Each delivery id once (the receiver's de-duplication), with its parsed body."""
        out: dict[str, dict[str, Any]] = {}
        with self.lock:
            for headers, body in self.received:
                out.setdefault(headers["X-Deconfliction-Delivery"], orjson.loads(body))
        return out

    def wait_for(self, count: int, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.delivered()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{len(self.delivered())} deliveries, wanted {count}")
