"""The controller's webhook endpoint: Git tells the agent "something changed".

Without a webhook the agent only notices a commit at its next poll (Argo CD:
every 120-180 s). The bare repository's ``post-receive`` hook POSTs here right
after a push, so the refresh starts at once. The body is signed with HMAC-SHA256
and a secret only the lab knows; an unsigned or wrongly signed request is
refused with 401 and changes nothing. The server binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from labkit.hook import verify

log = logging.getLogger(__name__)
PATH = "/api/webhook"
MAX_BODY = 64 * 1024

OnPush = Callable[[dict[str, Any]], None]


class WebhookServer:
    """An HTTP server on 127.0.0.1 that verifies signatures and calls ``on_push``."""

    def __init__(self, secret: bytes, on_push: OnPush, port: int = 0) -> None:
        handler = _make_handler(secret, on_push)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="webhook", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def start(self) -> WebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _make_handler(secret: bytes, on_push: OnPush) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != PATH:
                return self._reply(404, {"error": "not found"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._reply(413, {"error": "body too large"})
            body = self.rfile.read(length)
            if not verify(secret, body, self.headers.get("X-Labkit-Signature")):
                return self._reply(401, {"error": "missing or wrong signature"})
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return self._reply(400, {"error": "body is not JSON"})
            on_push(payload if isinstance(payload, dict) else {})
            self._reply(202, {"status": "refresh queued"})

        def do_GET(self) -> None:  # noqa: N802
            self._reply(200 if self.path == "/healthz" else 404, {"status": "ok"})

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("webhook: " + format, *args)

    return Handler
