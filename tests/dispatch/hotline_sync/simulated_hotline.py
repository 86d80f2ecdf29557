"""A simulated 12345 hotline system on localhost: receives citygrid's signed webhooks for its
tickets, checks each signature, de-duplicates by the delivery id as the real one must, and keeps
what it applied per ticket (one entry per event, in seq order). `statuses` answers the next
posts (then 200); an answer in `taken_then` is the delayed acknowledgement: the post is applied,
then answered with that status, as when the answer is lost on the way back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dispatch.webhooks import signing

SECRET = "hotline-system-shared-secret"


@dataclass
class HotlineSystem:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # every body posted, as received
    delivery_ids: list[str] = field(default_factory=list)
    applied: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # ticket → events
    seen: set[str] = field(default_factory=set)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        """Applies a post once per delivery id; the status to answer."""
        with self.lock:
            self.bodies.append(body)
            delivery = headers["X-Citygrid-Delivery"]
            self.delivery_ids.append(delivery)
            good = signing.verify_signature(
                SECRET, headers["X-Citygrid-Timestamp"], body, headers["X-Citygrid-Signature"]
            )
            if not good:
                self.bad_signatures += 1
                return 401
            if delivery not in self.seen:
                self.seen.add(delivery)
                event = json.loads(body)["data"]
                self.applied.setdefault(event["ticket_number"], []).append(event)
            return self.statuses.pop(0) if self.statuses else 200

    def kinds_of(self, ticket_number: str) -> list[str]:
        """What the system applied for a ticket, in seq order (as it orders them)."""
        events = sorted(self.applied.get(ticket_number, []), key=lambda event: event["seq"])
        return [event["kind"] for event in events]


@contextmanager
def hotline_system() -> Iterator[HotlineSystem]:
    state = HotlineSystem()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.take(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/12345/events"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
