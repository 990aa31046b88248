"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose every reply a test scripts.

``behave(path, body, n)`` gets the request path, its JSON body and the request's number (0-based) and
returns ``(status, headers, payload, delay)``. ``payload`` is sent as JSON, except:

* ``bytes``: sent as the body verbatim (an HTML error page, JSON cut short);
* ``DROP``: the connection is closed without any reply (a proxy dropping it).

``delay`` seconds pass before the reply (longer than the client timeout: a hang).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

DROP = object()  # payload sentinel: close the connection without replying

Reply = "tuple[int, dict[str, str], Any, float]"
Behaviour = Callable[[str, dict[str, Any], int], "tuple[int, dict[str, str], Any, float]"]


class FakeOpenAI:
    """The server; ``requests`` records (path, body, headers, arrival time) of every request."""

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.requests: list[tuple[str, dict[str, Any], dict[str, str], float]] = []
        self.inflight = self.max_inflight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    n = len(server.requests)
                    server.requests.append((self.path, body, dict(self.headers), time.monotonic()))
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                answered = False
                try:
                    status, headers, payload, delay = server.behave(self.path, body, n)
                    time.sleep(delay)
                    with server.lock:  # answered from here on: the client may send its next request at once
                        server.inflight -= 1
                        answered = True
                    if payload is DROP:
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # the client gave up (a timeout test)
                finally:
                    if not answered:
                        with server.lock:
                            server.inflight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def paths(self) -> list[str]:
        return [r[0] for r in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def chat(text: str) -> dict[str, Any]:
    """A chat completion reply carrying ``text``."""
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


def completion(text: str) -> dict[str, Any]:
    """A ``/completions`` reply carrying ``text``."""
    return {"choices": [{"text": text}]}
