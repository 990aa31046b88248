"""Any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, Ollama, llama.cpp server) as an LLM backend.

Prompts go out concurrently (at most ``settings.llm_concurrency`` in flight), each with a timeout and
retries with exponential backoff and jitter on 429, 5xx and connection failures, honouring
``Retry-After``::

    llm = OpenAILLM("openai:qwen2.5-7b@http://localhost:8000/v1", Settings())
    llm.generate(["Paris is the capital of"], max_new_tokens=8)
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence
from urllib.parse import urlsplit

import httpx

from ..errors import ConfigError, LLMError

if TYPE_CHECKING:
    from ..config import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_STOPS = 4  # OpenAI accepts at most four stop sequences; the rest are applied locally
MAX_RETRY_AFTER = 60.0  # a longer Retry-After would stall a build; wait this long and try again
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}

Endpoint = Literal["chat", "completions"]


class OpenAILLM:
    """Generation (and, where the server allows echo, scoring) over an OpenAI-compatible API.

    ``endpoint="chat"`` (default) uses ``/chat/completions`` and falls back to ``/completions`` when
    the server has no chat route or no chat template (a base model); ``"completions"`` uses it directly.
    """

    def __init__(
        self,
        spec: str,
        settings: "Settings | None" = None,
        *,
        endpoint: Endpoint = "chat",
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from ..config import Settings

        settings = settings or Settings()
        model, base_url = _parse_spec(spec, settings)
        self.model, self.base_url, self.endpoint = model, base_url, endpoint
        self.model_id = f"openai:{model}@{urlsplit(base_url).netloc}"
        self.concurrency = max(1, settings.llm_concurrency)
        self.retries = max(0, settings.llm_retries)
        self.backoff, self.max_backoff = backoff, max_backoff
        key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=settings.llm_timeout,
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            transport=transport,
        )
        self._lock = threading.Lock()

    # -- the LLM contract ------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """One greedy (temperature 0) completion per prompt, requested concurrently, in input order."""
        stops = [s for s in stop if s]
        return self._map(lambda p: _cut(self._complete(p, max_new_tokens, stops), stops), prompts)

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Summed log-probability of each continuation given its context, via ``/completions`` echo.

        Raises ``NotImplementedError`` when the server does not return prompt logprobs (OpenAI's
        chat-era models, most hosted APIs); vLLM and llama.cpp servers do.
        """
        if len(contexts) != len(continuations):
            raise ValueError("logprob needs as many contexts as continuations")
        return self._map(lambda pair: self._score(*pair), list(zip(contexts, continuations)))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAILLM":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAILLM({self.model_id!r})"

    # -- requests --------------------------------------------------------------------------------

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` over ``items`` with at most ``concurrency`` in flight; results in input order."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def _complete(self, prompt: str, max_new_tokens: int, stops: list[str]) -> str:
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": max_new_tokens}
        if stops:
            body["stop"] = stops[:MAX_STOPS]
        if self.endpoint == "chat":
            try:
                data = self._post("chat/completions", {**body, "messages": [{"role": "user", "content": prompt}]})
                return str(data["choices"][0]["message"].get("content") or "")
            except _NoChat:
                with self._lock:
                    self.endpoint = "completions"  # remembered: later prompts skip the failed route
        data = self._post("completions", {**body, "prompt": prompt})
        return str(data["choices"][0].get("text") or "")

    def _score(self, context: str, continuation: str) -> float:
        if not continuation:
            return 0.0
        text = context + continuation
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1}
        try:
            data = self._post("completions", body)
            lp = data["choices"][0]["logprobs"]
            tokens, offsets = lp["token_logprobs"], lp["text_offset"]
        except _StatusError as exc:
            if not 400 <= exc.status < 500:
                raise
            raise NotImplementedError(f"{self.model_id} does not return prompt logprobs (echo): {exc}") from None
        except (KeyError, IndexError, TypeError) as exc:
            raise NotImplementedError(f"{self.model_id} does not return prompt logprobs (echo): {exc!r}") from None
        # Sum the prompt tokens that start inside the continuation; the one generated token lies beyond.
        picked = [t for t, o in zip(tokens, offsets) if len(context) <= o < len(text)]
        if not picked or any(t is None for t in picked):
            raise NotImplementedError(f"{self.model_id} returned no logprobs for the continuation")
        return float(sum(picked))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries; raises ``LLMError`` (status and body excerpt) once retries are spent."""
        attempt = 0
        while True:
            try:
                response = self._client.post(path, json=body)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                if attempt >= self.retries:
                    raise LLMError(
                        f"{self.model_id}: POST {path} failed after {attempt + 1} attempts: "
                        f"{exc.__class__.__name__}: {exc}"
                    ) from exc
                time.sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if response.status_code < 400:
                try:
                    return dict(response.json())
                except ValueError:
                    raise LLMError(f"{self.model_id}: POST {path} returned non-JSON: {_excerpt(response)}") from None
            if path == "chat/completions" and _chat_unsupported(response):
                raise _NoChat()
            if response.status_code not in _RETRY_STATUS or attempt >= self.retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise _StatusError(
                    response.status_code,
                    f"{self.model_id}: POST {path} failed{tries}: HTTP {response.status_code}: {_excerpt(response)}",
                )
            time.sleep(self._delay(attempt, _retry_after(response)))
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never shorter than the server's Retry-After (up to a minute)."""
        backoff = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        return max(backoff, min(retry_after, MAX_RETRY_AFTER)) if retry_after is not None else backoff


class _StatusError(LLMError):
    """An HTTP error reply; ``status`` lets callers tell a refused feature (4xx) from an outage."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _NoChat(Exception):
    """The server has no usable chat route for this model; use ``/completions``."""


def _parse_spec(spec: str, settings: "Settings") -> tuple[str, str]:
    """(model, base URL) from ``openai:<model>[@<base_url>]``, settings, then the environment."""
    rest = spec[len("openai:") :] if spec.startswith("openai:") else ""
    model, at, url = rest.partition("@")
    if not model:
        raise ConfigError(f"OpenAI backend expects 'openai:<model>[@<base url>]', got {spec!r}")
    base = url if at else settings.llm_base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if urlsplit(base).scheme not in {"http", "https"} or not urlsplit(base).netloc:
        raise ConfigError(f"LLM base URL must be http(s)://host[:port][/path], got {base!r}")
    return model, base


def _chat_unsupported(response: httpx.Response) -> bool:
    """A missing chat route (404/405) or a model without a chat template (400 saying so)."""
    if response.status_code in (404, 405):
        return True
    return response.status_code == 400 and "template" in response.text.lower()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _cut(text: str, stop: Sequence[str]) -> str:
    """Text up to the earliest stop string (servers honour only some stops, some echo them)."""
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(ends)] if ends else text
