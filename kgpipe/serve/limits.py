"""Request size and concurrency limits, as one small ASGI middleware in front of the app.

- A request body over ``max_body`` bytes is refused with 413 before the app sees it (by its
  ``Content-Length`` when given, else by reading it ahead and counting).
- At most ``max_concurrent`` requests are handled at once; a request that waits more than ``queue_s``
  seconds for a turn gets 503 (the client should retry), so a burst cannot pile up unbounded work.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, kind: str, message: str) -> None:
    """A JSON error response of the same shape the app's handlers give: ``{"error": {"type", "message"}}``."""
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class Limits:
    """Wraps an ASGI app with the body size cap and the concurrency cap."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_concurrent: int, queue_s: float = 10.0) -> None:
        self.app, self.max_body, self.max_concurrent, self.queue_s = app, max_body, max_concurrent, queue_s
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await send_error(send, 413, "TooLarge", f"the request body is {int(length)} bytes; this server accepts at "
                                                    f"most {self.max_body} (kgpipe serve --max-body)")  # fmt: skip
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_s)
        except asyncio.TimeoutError:
            await send_error(send, 503, "Busy", f"{self.max_concurrent} requests are already being handled and none "
                                                f"finished within {self.queue_s:g} s; retry later")  # fmt: skip
            return
        try:
            if length is None and b"transfer-encoding" in headers:  # a chunked body: read it here, up to the cap
                buffered = await self._buffered(receive)
                if buffered is None:
                    await send_error(send, 413, "TooLarge", f"the request body is over {self.max_body} bytes, the most "
                                                            "this server accepts (kgpipe serve --max-body)")  # fmt: skip
                    return
                receive = buffered
            await self.app(scope, receive, send)
        finally:
            self._slots.release()

    async def _buffered(self, receive: Receive) -> Receive | None:
        """The whole body read ahead as a replayable ``receive``; None when it grows past ``max_body``."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return replay
