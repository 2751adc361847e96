"""A tiny stand-in for a Rasa server's ``/model/parse``: a real HTTP server on 127.0.0.1.

It answers like Rasa 3.6 (intent, entities with Rasa's extractor names, intent_ranking,
``nlu_fallback`` for what it does not know) from a keyword table, checks the ``token`` query
parameter as ``rasa run --auth-token`` does, and can misbehave on request (``mode``):

* ``ok``       Rasa-shaped answers
* ``garbage``  200 with a body that is not JSON
* ``wrong``    200 with JSON that is not a parse result of this model (an unknown intent)
* ``error``    500
* ``slow``     answers after ``delay`` seconds

Run in a thread (``FakeRasa``) for unit tests, or as its own process
(``python tests/fake_rasa.py --port 0 --token T``: prints ``port N`` once listening) when a
test has to kill it for real (SIGKILL) or freeze it (SIGSTOP).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: keyword (folded, lower case) → intent; first match wins
KEYWORDS = (
    ("bisid", "support_person"),
    ("klage", "complaint"),
    ("partsstatus", "party_rights"),
    ("rådgiver", "who_is_my_caseworker"),
    ("sagsbehandler", "who_is_my_caseworker"),
    ("hej", "greet"),
    ("farvel", "goodbye"),
    ("robot", "bot_challenge"),
    ("ked af det", "urgent_help"),
)
SYNONYMS = {"kbh": "København", "aarhus": "Aarhus", "århus": "Aarhus"}


def answer(text: str) -> dict[str, Any]:
    low = text.lower()
    intent = next((name for word, name in KEYWORDS if word in low), None)
    if intent is None:
        ranking = [
            {"name": "out_of_scope", "confidence": 0.21},
            {"name": "greet", "confidence": 0.18},
        ]
        top = {"name": "nlu_fallback", "confidence": 0.5}
        ranking.insert(0, dict(top))
    else:
        top = {"name": intent, "confidence": 0.93}
        ranking = [dict(top), {"name": "out_of_scope", "confidence": 0.04}]
    entities: list[dict[str, Any]] = []
    for word, value in SYNONYMS.items():
        start = low.find(word)
        if start >= 0:
            entities.append(
                {
                    "entity": "municipality",
                    "start": start,
                    "end": start + len(word),
                    "value": value,
                    "confidence_entity": 0.97,
                    "extractor": "DIETClassifier",
                    "processors": ["EntitySynonymMapper"],
                }
            )
    return {
        "text": text,
        "intent": top,
        "entities": entities,
        "text_tokens": [],
        "intent_ranking": ranking,
    }


class FakeRasaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, token: str, mode: str = "ok", delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.token = token
        self.mode = mode
        self.delay = delay
        self.requests = 0
        self.texts: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeRasaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/stats":  # for tests that run the server as a process
            body = {"requests": self.server.requests, "texts": len(self.server.texts)}
            self._send(200, json.dumps(body).encode())
        else:
            self._send(404, b'{"status": "failure"}')

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        server = self.server
        server.requests += 1
        if url.path != "/model/parse":
            self._send(404, b'{"status": "failure"}')
            return
        if parse_qs(url.query).get("token") != [server.token]:
            self._send(401, b'{"status": "failure", "reason": "NotAuthenticated"}')
            return
        text = str(json.loads(body or b"{}").get("text", ""))
        server.texts.append(text)
        mode = server.mode
        if mode == "slow":
            time.sleep(server.delay)
        if mode == "garbage":
            self._send(200, b"<html>502 Bad Gateway</html>", "text/html")
        elif mode == "wrong":
            self._send(200, b'{"intent": {"name": "order_pizza", "confidence": 0.9}}')
        elif mode == "error":
            self._send(500, b'{"status": "failure"}')
        else:
            self._send(200, json.dumps(answer(text), ensure_ascii=False).encode())


class FakeRasa:
    """The server in a background thread: ``with FakeRasa(token) as rasa: rasa.url``."""

    def __init__(self, token: str, mode: str = "ok", delay: float = 0.0) -> None:
        self.server = FakeRasaServer(0, token, mode, delay)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRasa:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--mode", default="ok")
    args = parser.parse_args()
    server = FakeRasaServer(args.port, args.token, args.mode)
    sys.stdout.write(f"port {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
