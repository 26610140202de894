"""A small OpenAI-compatible server on loopback for the policy-server tests.

    with FakePolicyServer(fail_first=2, fail_status=503) as server:   # or upstream="http://.../v1"
        OpenAIPolicy(PolicyServer(server.base_url)).choice_logprobs(...)
    server.requests      # every chat completion it was sent: arrival time and JSON body
    server.most_open     # the most chat completions it held open at once

It lists one model, fails its first `fail_first` chat completions (with `fail_status`, or 0 to drop
the connection without answering), and answers the rest itself or, with `upstream`, by forwarding
them to a real server (what the worker test uses to see the judge's requests go over HTTP).
Its own answers: the reply "echo: <last message>", and for the first token the logprobs in
`top_logprobs`, after holding the request `delay_s` seconds.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-policy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Seen:
    at: float  # time.monotonic() on arrival
    body: dict[str, Any]


class FakePolicyServer:
    def __init__(self, *, fail_first: int = 0, fail_status: int = 503, delay_s: float = 0.0,
                 top_logprobs: dict[str, float] | None = None, upstream: str = "", port: int = 0) -> None:
        self.fail_first, self.fail_status, self.delay_s, self.upstream = fail_first, fail_status, delay_s, upstream
        self.top_logprobs = top_logprobs or {"A": -0.5, "B": -1.2}
        self.requests: list[Seen] = []
        self.most_open = 0
        self._open = 0
        self._lock = threading.Lock()
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._httpd.daemon_threads = True

    def __enter__(self) -> FakePolicyServer:
        threading.Thread(target=self._httpd.serve_forever, name="fake-policy-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops answering: new connections are refused from here on."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def models(self) -> dict[str, Any]:
        if self.upstream:
            with urllib.request.urlopen(f"{self.upstream}/models", timeout=10) as response:
                return json.load(response)
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]}

    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(status, JSON to send); status 0 means drop the connection."""
        with self._lock:
            self.requests.append(Seen(time.monotonic(), body))
            failing = len(self.requests) <= self.fail_first
            self._open += 1
            self.most_open = max(self.most_open, self._open)
        try:
            if failing:
                return self.fail_status, {"error": {"message": "failing on purpose", "type": "server_error"}}
            if self.upstream:
                request = urllib.request.Request(f"{self.upstream}/chat/completions", data=json.dumps(body).encode(),
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as response:
                    return 200, json.load(response)
            time.sleep(self.delay_s)
            return 200, self._answer(body)
        finally:
            with self._lock:
                self._open -= 1

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = "echo: " + body["messages"][-1]["content"]
        logprobs = None
        if body.get("logprobs"):
            best = max(self.top_logprobs, key=self.top_logprobs.__getitem__)
            top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in self.top_logprobs.items()]
            logprobs = {"content": [{"token": best, "logprob": self.top_logprobs[best], "bytes": None,
                                     "top_logprobs": top[: body.get("top_logprobs") or 0]}]}
            reply = best
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": "stop", "logprobs": logprobs}]}


def _handler(server: FakePolicyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, server.models())
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            status, payload = server.complete(body)
            if status == 0:  # the connection ends with no answer, as when a server dies mid-request
                self.close_connection = True
                self.connection.close()
                return
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # quiet: pytest shows what matters
            pass

    return Handler
