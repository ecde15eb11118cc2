"""A content platform's postback endpoint on loopback that checks hutong's signatures."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hutong.errors import InvalidInput
from hutong.traffic.postbacks import SIGNATURE_HEADER, verify


@dataclass
class Receiver:
    keys: dict[str, str] = field(default_factory=dict)
    fail_next: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)
    deliveries: list[str] = field(default_factory=list)
    require_signature: bool = True
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.deliveries.append(self.headers.get("Idempotency-Key", ""))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self._answer(503)
                    return
                try:
                    if receiver.require_signature:
                        verify(
                            self.headers.get(SIGNATURE_HEADER, ""), body, receiver.keys, time.time()
                        )
                except InvalidInput as exc:
                    receiver.rejected.append(exc.detail)
                    self._answer(401)
                    return
                key = self.headers["Idempotency-Key"]
                if key not in receiver.seen_keys:  # applied once, acknowledged every time
                    receiver.seen_keys.add(key)
                    receiver.accepted.append(json.loads(body))
                self._answer(200)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/postbacks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
