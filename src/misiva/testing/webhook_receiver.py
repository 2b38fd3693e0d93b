"""A real HTTP server that receives webhook posts for tests, refusing the first N if told."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class ReceiverServer(ThreadingHTTPServer):
    # The dispatcher posts up to a batch (100) at once; http.server's listen backlog of 5
    # dropped the rest as connect timeouts, which looked like a receiver that is down.
    request_queue_size = 256
    daemon_threads = True


@dataclass(frozen=True, slots=True)
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Listens on 127.0.0.1 (a free port); `refuse(n)` answers 503 to the next n posts."""

    def __init__(self) -> None:
        self.accepted: list[ReceivedPost] = []
        self.visits: list[str] = []
        self.refused = 0
        self._to_refuse = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-body (a kill -9 of the dispatcher): a real server
                    # drops the request; recording it would count a post nobody finished.
                    self.close_connection = True
                    return
                post = ReceivedPost(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                status = receiver._take(post)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                # A landing page for followed click redirects.
                receiver.visits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ReceiverServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.base}/hooks"

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def refuse(self, count: int) -> None:
        with self._lock:
            self._to_refuse = count

    def _take(self, post: ReceivedPost) -> int:
        with self._lock:
            if self._to_refuse > 0:
                self._to_refuse -= 1
                self.refused += 1
                return 503
            self.accepted.append(post)
            return 200

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
