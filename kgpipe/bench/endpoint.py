"""A stand-in for an OpenAI-compatible LLM server, and a synthetic corpus for it to read: what ``kgpipe bench
build`` measures engines against, and what the Ray engine's tests build with.

The endpoint answers like a latency-bound remote model that cost nothing to run: an extraction prompt gets
one ``head | relation | tail`` line per sentence "Head relation words Tail." of its chunk; a yes/no
question (``logprobs``) gets top log-probabilities that favour "Yes" as more of the fact's words occur
in the text; ``/completions`` replies carry no logprobs, as OpenAI's chat-era endpoints do. Every reply
waits ``latency`` seconds first, in its own thread, so concurrency, not this process's CPU, bounds it.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

Reply = tuple[int, dict[str, Any]]


def reply(path: str, body: dict[str, Any]) -> Reply:
    """The status and JSON reply to one request (see the module docstring)."""
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        return 200, {"choices": [{"text": "x", "index": 0}]}  # well-formed, without logprobs
    prompt = body["messages"][0]["content"]
    if body.get("logprobs"):
        return 200, judge_reply(prompt)
    return 200, {"choices": [{"message": {"role": "assistant", "content": extraction_reply(prompt)}}]}


def extraction_reply(prompt: str) -> str:
    """One triple per sentence of the chunk (the last ``Text:`` of the prompt), in parse.py's format."""
    text = prompt.rsplit("Text:", 1)[1].split("\nTriples:", 1)[0]
    lines = []
    for sentence in re.split(r"(?<=\.)\s+", text.strip()):
        words = sentence.strip(" .").split()
        if len(words) >= 3:
            lines.append(f"{words[0]} | {' '.join(words[1:-1])} | {words[-1]}")
    return "\n".join(lines) + "\nEND"


def judge_reply(prompt: str) -> dict[str, Any]:
    """A chat reply with the top logprobs of the answer token: "Yes" the more of the fact's words the text contains."""
    text = prompt.rsplit("Text:", 1)[1].split("\nFact:", 1)[0].casefold()
    fact = prompt.rsplit("Fact:", 1)[1].split("\nStated", 1)[0]
    words = [w.casefold() for w in re.findall(r"\w+", fact)]
    share = sum(w in text for w in words) / max(1, len(words))
    top = {"Yes": round(-0.1 - 3 * (1 - share), 4), "No": round(-0.1 - 3 * share, 4), "Maybe": -7.0}
    first = max(top, key=top.__getitem__)
    alternatives = [{"token": t, "logprob": v} for t, v in top.items()]
    content = [{"token": first, "logprob": top[first], "top_logprobs": alternatives}]
    return {"choices": [{"message": {"role": "assistant", "content": first}, "logprobs": {"content": content}}]}


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer an HTTP request with ``payload`` as JSON (the stand-in servers' one way to reply)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Endpoint:
    """The endpoint on ``127.0.0.1`` (a free port) until ``close()``; ``url`` is its ``/v1`` base, ``requests``
    counts what it answered, ``max_inflight`` the most requests it held at once."""

    def __init__(self, latency: float = 0.2) -> None:
        self.latency, self.requests, self.inflight, self.max_inflight = latency, 0, 0, 0
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                time.sleep(server.latency)
                status, payload = reply(self.path, body)
                with lock:
                    server.inflight -= 1
                    server.requests += 1
                send_json(self, status, payload)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PLACES = ["Ardenby", "Corvale", "Mistral", "Brenfair", "Talisk", "Orvane", "Kernow", "Vexholm", "Dunmere",
           "Saltmarsh", "Harrowgate", "Lunet", "Quellmoor", "Pellam", "Rookwell", "Sunderby"]  # fmt: skip
_PEOPLE = ["Pella", "Tamsin", "Oswin", "Mirela", "Castor", "Idony", "Bram", "Elowen", "Corin", "Wenna"]
_VERBS = ["lies in", "borders", "trades with", "founded", "employs", "studied at", "supplies", "guards", "visited"]


def synthetic_corpus(folder: str | Path, n: int, *, seed: int = 0, verbs: Sequence[str] = _VERBS) -> list[Path]:
    """Write ``n`` small documents (two to four sentences "Name verb Name.") into ``folder``; names recur across
    documents, so fusion joins mentions from many of them. The same ``seed`` writes the same files."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = _PLACES + _PEOPLE
    paths = []
    for k in range(n):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            head, tail = rng.sample(names, 2)
            sentences.append(f"{head} {rng.choice(list(verbs))} {tail}.")
        path = folder / f"doc{k:04d}.txt"
        path.write_text(" ".join(sentences) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
