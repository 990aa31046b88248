"""Any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, Ollama, llama.cpp server) as an LLM backend.

Prompts go out concurrently (at most ``settings.llm_concurrency`` in flight per client, over all the calls that
threads make at once), each with a timeout and
retries with exponential backoff and jitter on 429, 5xx, connection failures and malformed 200 replies
(not JSON, cut short, no choices), honouring ``Retry-After``; after the last retry an ``LLMError``
(``BadReply`` for malformed bodies) names the model, route, attempts and a body excerpt::

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

from ..errors import BadReply, ConfigError, LLMError
from .contract import cut_at_stop
from .openai_replies import (
    chat_text,
    chat_top_logprobs,
    completion_text,
    completion_top_logprobs,
    echo_logprobs,
    yes_no_log_odds,
)
from .structured import names_the_parameter, structured_bodies

if TYPE_CHECKING:
    from ..config import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_STOPS = 4  # OpenAI accepts at most four stop sequences; the rest are applied locally
CHAT_TOP_LOGPROBS = 20  # alternatives asked for the yes/no answer token (OpenAI's chat maximum)
COMPLETION_TOP_LOGPROBS = 5  # the same on /completions (OpenAI's maximum there)
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
        backoff: float | None = None,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from ..config import Settings

        settings = settings or Settings()
        model, base_url = _parse_spec(spec, settings)
        self.model, self.base_url, self.endpoint = model, base_url, endpoint
        # The served model name identifies the model, not where it is served: the response cache and the
        # judge calibration follow the model to another host or port (see README, "LLM backends").
        self.model_id = f"openai:{model}"
        self.concurrency = max(1, settings.llm_concurrency)
        self.retries = max(0, settings.llm_retries)
        self.backoff = settings.llm_backoff if backoff is None else backoff
        self.max_backoff = max_backoff
        self._lacks: dict[str, str] = {}  # feature -> why, learnt from a well-formed reply (never from a failure)
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
        # Requests in flight, whichever call they belong to: a Ray actor working on several blocks at once keeps
        # the client's ``llm_concurrency`` (README, "Scaling"). A request backing off before a retry holds none.
        self._slots = threading.BoundedSemaphore(self.concurrency)

    # -- the LLM contract ------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        """One greedy (temperature 0) completion per prompt, requested concurrently, in input order."""
        stops = [s for s in stop if s]  # cut here too: servers honour only some stops, and some echo them
        return self._map(lambda p: cut_at_stop(self._complete(p, max_new_tokens, stops), stops), prompts)

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Summed log-probability of each continuation given its context, via ``/completions`` echo.

        Raises ``NotImplementedError`` when a well-formed reply carries no prompt logprobs, or the server
        refuses echo with a 4xx (OpenAI's chat-era models, most hosted APIs); vLLM and llama.cpp servers
        return them. An outage or malformed reply is an ``LLMError``, never taken for a missing feature.
        """
        if len(contexts) != len(continuations):
            raise ValueError("logprob needs as many contexts as continuations")
        return self._map(lambda pair: self._score(*pair), list(zip(contexts, continuations)))

    def yes_no(self, prompts: Sequence[str]) -> list[float]:
        """``log P(yes) - log P(no)`` of the first answer token, one request per prompt (``max_tokens=1``).

        Chat: ``logprobs=true, top_logprobs=20`` (OpenAI returns these without prompt echo); on
        ``/completions``: ``logprobs=5``. See ``yes_no_log_odds`` for spellings and a missing answer.
        ``NotImplementedError`` when a well-formed reply has no top logprobs (or a 4xx refuses them).
        """
        return self._map(self._yes_no, list(prompts))

    def generate_structured(
        self, prompts: Sequence[str], schemas: Sequence[dict[str, Any]], *, max_new_tokens: int = 128
    ) -> list[str]:
        """One JSON text per prompt, decoded by the server under its schema (``kgpipe.llms.structured``: the
        fields sent). ``NotImplementedError``, remembered, once a 4xx reply names the parameter (a server
        without structured output); any other failure is an ``LLMError`` and decides nothing."""
        if len(prompts) != len(schemas):
            raise ValueError("generate_structured needs one schema per prompt")
        return self._map(lambda pair: self._structured(*pair, max_new_tokens), list(zip(prompts, schemas)))

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
        return str(self._ask(prompt, body, chat_text, completion_text))

    def _ask(
        self, prompt: str, body: dict[str, Any], read_chat: "Reader", read_completion: "Reader",
        completion_body: dict[str, Any] | None = None,
    ) -> Any:
        """POST ``prompt`` to the chat route (falling back to ``/completions`` for good when it has none)."""
        if self.endpoint == "chat":
            try:
                messages = [{"role": "user", "content": prompt}]
                return self._post("chat/completions", {**body, "messages": messages}, read_chat)
            except _NoChat:
                with self._lock:
                    self.endpoint = "completions"  # remembered: later prompts skip the failed route
        return self._post("completions", {**(completion_body or body), "prompt": prompt}, read_completion)

    def _structured(self, prompt: str, schema: dict[str, Any], max_new_tokens: int) -> str:
        chat, plain = structured_bodies({"model": self.model, "temperature": 0, "max_tokens": max_new_tokens}, schema)

        def request() -> str:
            try:
                return str(self._ask(prompt, chat, chat_text, completion_text, plain))
            except _StatusError as exc:
                if names_the_parameter(str(exc).partition("failed")[2]):
                    raise
                raise LLMError(str(exc)) from exc  # a 4xx about something else: this request failed, no refusal

        return str(self._feature("structured output", request))

    def _score(self, context: str, continuation: str) -> float:
        if not continuation:
            return 0.0
        text = context + continuation
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1}
        tokens, offsets = self._feature("echo", lambda: self._post("completions", body, echo_logprobs))
        # Sum the prompt tokens that start inside the continuation; the one generated token lies beyond.
        picked = [t for t, o in zip(tokens, offsets) if len(context) <= o < len(text)]
        if not picked or any(t is None for t in picked):
            raise NotImplementedError(f"{self.model_id} returned no logprobs for the continuation")
        return float(sum(picked))

    def _yes_no(self, prompt: str) -> float:
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": 1}
        chat = {**body, "logprobs": True, "top_logprobs": CHAT_TOP_LOGPROBS}
        plain = {**body, "logprobs": COMPLETION_TOP_LOGPROBS}
        top = self._feature("top logprobs", lambda: self._ask(prompt, chat, chat_top_logprobs, completion_top_logprobs, plain))
        return yes_no_log_odds(top)

    def _feature(self, name: str, request: Callable[[], Any]) -> Any:
        """``request()``, turning a refusal of the feature into ``NotImplementedError``, remembered.

        Only a well-formed reply without it or a 4xx refusal counts; an outage (5xx, 408/429, transport),
        a refused key (401/403) or a malformed reply is an ``LLMError`` and decides nothing.
        """
        if name in self._lacks:
            raise NotImplementedError(self._lacks[name])
        try:
            return request()
        except _StatusError as exc:
            if not 400 <= exc.status < 500 or exc.status in _RETRY_STATUS or exc.status in (401, 403):
                raise
            why = f"{self.model_id} does not return {name}: {exc}"
        except NotImplementedError as exc:
            why = f"{self.model_id} does not return {name}: {exc}"
        with self._lock:
            self._lacks[name] = why
        raise NotImplementedError(why)

    def _post(self, path: str, body: dict[str, Any], read: "Reader") -> Any:
        """POST with retries; ``read`` turns the reply's JSON into the value wanted.

        Retried with backoff: connection failures and timeouts, 408/409/425/429/5xx (honouring
        Retry-After), and a 200 whose body is no usable reply (not JSON, cut short, no choices, a choice
        without message or text: ``read`` raises KeyError/IndexError/TypeError/ValueError). Once the retries
        are spent this raises ``LLMError`` (``BadReply`` for malformed bodies) naming the model, route,
        attempts and a body excerpt. ``read`` raising ``NotImplementedError`` (a well-formed reply without
        a feature) is passed on at once.
        """
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                with self._slots:
                    response = self._client.post(path, json=body)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                error: type[LLMError] = LLMError
                problem, status, cause = f"{exc.__class__.__name__}: {exc}", 0, exc
            else:
                cause = None
                if response.status_code < 400:
                    try:
                        return read(response.json())
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        error, status = BadReply, response.status_code
                        problem = f"malformed reply ({_why(exc)}): {_excerpt(response)}"
                else:
                    if path == "chat/completions" and _chat_unsupported(response):
                        raise _NoChat()
                    error, status = _StatusError, response.status_code
                    problem = f"HTTP {response.status_code}: {_excerpt(response)}"
                    if response.status_code not in _RETRY_STATUS:
                        raise _StatusError(status, f"{self.model_id}: POST {path} failed: {problem}")
                    retry_after = _retry_after(response)
            if attempt >= self.retries:
                message = f"{self.model_id}: POST {path} failed after {attempt + 1} attempts: {problem}"
                exc_out = _StatusError(status, message) if error is _StatusError else error(message)
                raise exc_out from cause
            time.sleep(self._delay(attempt, retry_after))
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; never shorter than the server's Retry-After (up to a minute)."""
        backoff = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        return max(backoff, min(retry_after, MAX_RETRY_AFTER)) if retry_after is not None else backoff


Reader = Callable[[Any], Any]


def _why(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return "not JSON" if "JSON" in type(exc).__name__ or "Expecting" in str(exc) else str(exc)
    if isinstance(exc, IndexError):
        return "no choices"
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}"
    return str(exc)


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

