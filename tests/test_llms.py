"""LLM backends: the real packaged Gemma, OpenAILLM against a real local HTTP server, the response cache."""

from __future__ import annotations

import json
import math
import multiprocessing
import socket
import time
from pathlib import Path
from typing import Any, Sequence

import pytest

from conftest import ScriptedLLM
from fake_openai import DROP, FakeOpenAI, chat
from kgpipe.config import Settings
from kgpipe.errors import BadReply, ConfigError, LLMError, ModelUnavailable
from kgpipe.llms import LLM, resolve_llm, scorer, structured_generator, yes_no_scorer
from kgpipe.llms.cache import CachedLLM
from kgpipe.llms.openai import OpenAILLM

# -- the packaged Gemma (real model) ------------------------------------------------------------

PROMPTS = [
    "The capital of France is",
    "Marie Curie was a physicist who discovered polonium and radium. She was born in",
    "Water boils at",
    "A list of fruits: apple, banana,",
]


def test_gemma_loads_from_the_safetensors_cache(gemma: Any, model_cache: Path) -> None:
    cached = model_cache / "gemma-3-270m"
    assert (cached / "config.json").is_file() and (cached / "model.safetensors").is_file()
    assert (cached / "kgpipe-conversion.json").is_file()  # written last: the cache is complete
    assert not list(model_cache.glob(".gemma-3-270m.*"))  # no half-written conversion left behind
    assert gemma.model_id == "hf:gemma-3-270m-q4_k_m"
    assert isinstance(gemma, LLM) and gemma.model is not None and gemma.tokenizer is not None


def test_gemma_generates_deterministic_text(gemma: Any) -> None:
    first = gemma.generate(["The capital of France is"], max_new_tokens=10)
    second = gemma.generate(["The capital of France is"], max_new_tokens=10)
    assert first == second and first[0].strip()
    assert not first[0].startswith("The capital")  # the prompt is not echoed


def test_gemma_batched_equals_one_at_a_time(gemma: Any) -> None:
    batched = gemma.generate(PROMPTS, max_new_tokens=12)
    single = [gemma.generate([p], max_new_tokens=12)[0] for p in PROMPTS]
    assert batched == single
    assert len(set(batched)) == len(PROMPTS)  # outputs returned in input order, not length order


def test_gemma_stop_strings_cut_the_output(gemma: Any) -> None:
    free = gemma.generate(PROMPTS, max_new_tokens=24)
    stopped = gemma.generate(PROMPTS, max_new_tokens=24, stop=[".", "\n"])
    for full, cut in zip(free, stopped):
        assert "." not in cut and "\n" not in cut
        assert full.startswith(cut)
        ends = [i for i in (full.find("."), full.find("\n")) if i >= 0]
        if ends:
            assert cut == full[: min(ends)]


def test_gemma_stops_early_when_every_sequence_has_stopped(gemma: Any) -> None:
    started = time.perf_counter()
    gemma.generate(["A list of fruits: apple, banana,"], max_new_tokens=4)
    four = time.perf_counter() - started
    started = time.perf_counter()
    out = gemma.generate(["A list of fruits: apple, banana,"], max_new_tokens=200, stop=[","])
    stopped = time.perf_counter() - started
    assert "," not in out[0] and out[0].strip()
    assert stopped < 10 * four + 2.0  # 200 tokens would take about 50 times as long as 4


def test_gemma_logprob_prefers_the_plausible_continuation(gemma: Any) -> None:
    contexts = ["The capital of France is", "The capital of France is", "Water boils at 100 degrees"]
    continuations = [" Paris", " a bicycle sandwich", " Celsius"]
    scores = gemma.logprob(contexts, continuations)
    assert all(s < 0 for s in scores)
    assert scores[0] > scores[1]
    alone = gemma.logprob(contexts[:1], continuations[:1])[0]
    assert alone == pytest.approx(scores[0], abs=1e-3)  # padding in a batch does not change a score
    assert gemma.logprob(["anything"], [""]) == [0.0]


def test_hf_local_folder_and_cached_wrapper(gemma: Any, model_cache: Path, settings: Settings) -> None:
    llm = resolve_llm(f"hf:{model_cache / 'gemma-3-270m'}", settings)
    assert isinstance(llm, CachedLLM) and llm.model_id.startswith("hf:/")
    assert hasattr(llm, "logprob") and llm.tokenizer is not None
    out = llm.generate(PROMPTS[:2], max_new_tokens=6)
    assert out == gemma.generate(PROMPTS[:2], max_new_tokens=6)
    assert llm.generate(PROMPTS[:2], max_new_tokens=6) == out and llm.calls == 2 and llm.hits == 2


def test_interrupted_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: Any, settings: Settings) -> None:
    from kgpipe.llms import transformers as tf

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("KGPIPE_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(tf.AutoTokenizer, "from_pretrained", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tf.TransformersLLM("gemma", settings)
    assert list(tmp_path.iterdir()) == []  # neither a cache folder nor a half-written temporary one


@pytest.mark.slow
def test_conversion_from_gguf_reproduces_the_cached_model(tmp_path: Path, monkeypatch: Any, gemma: Any) -> None:
    from kgpipe.llms.transformers import TransformersLLM

    monkeypatch.setenv("KGPIPE_MODEL_CACHE", str(tmp_path))
    fresh = TransformersLLM("gemma", Settings(state_dir=str(tmp_path), progress=False))  # about a minute
    assert (tmp_path / "gemma-3-270m" / "kgpipe-conversion.json").is_file()
    assert fresh.generate(PROMPTS, max_new_tokens=8) == gemma.generate(PROMPTS, max_new_tokens=8)


# -- resolve_llm --------------------------------------------------------------------------------


def test_unknown_backend_is_a_config_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown LLM backend"):
        resolve_llm("nosuchbackend:model", settings)


def test_missing_hub_model_fails_without_touching_the_network(settings: Settings, monkeypatch: Any) -> None:
    attempts: list[Any] = []

    def no_network(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ModelUnavailable, match="some/not-downloaded-model"):
        resolve_llm("hf:some/not-downloaded-model", settings)
    assert attempts == []


# -- OpenAILLM against a real local HTTP server ------------------------------------------------

def echo_chat(path: str, body: dict[str, Any], n: int) -> tuple[int, dict[str, str], Any, float]:
    return 200, {}, chat(f"re: {body['messages'][0]['content']}"), 0.0


def client(server: FakeOpenAI, **settings: Any) -> OpenAILLM:
    base = {"llm_retries": 3, "llm_timeout": 5.0, "llm_concurrency": 4, "llm_api_key": "sk-test"}
    return OpenAILLM(f"openai:test-model@{server.url}", Settings(**{**base, **settings}), backoff=0.01)


def test_openai_chat_generation_in_order_with_stops(serve: Any) -> None:
    server = serve(lambda p, b, n: (200, {}, chat(f"re: {b['messages'][0]['content']}. More\ntext"), 0.0))
    llm = client(server)
    prompts = [f"prompt {i}" for i in range(9)]
    assert llm.generate(prompts, max_new_tokens=7, stop=[".", "\n", "a", "b", "c"]) == [f"re: prompt {i}" for i in range(9)]
    path, body, headers, _ = server.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-test"
    assert body["temperature"] == 0 and body["max_tokens"] == 7 and body["model"] == "test-model"
    assert body["stop"] == [".", "\n", "a", "b"]  # at most four go to the server; all are applied locally
    assert llm.model_id == "openai:test-model"  # the served model, wherever it is served (cache, calibration)


def test_openai_retries_429_honouring_retry_after(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        if n == 0:
            return 429, {"Retry-After": "1"}, {"error": "slow down"}, 0.0
        return echo_chat(path, body, n)

    server = serve(behave)
    assert client(server).generate(["hi"]) == ["re: hi"]
    times = [r[3] for r in server.requests]
    assert len(times) == 2 and times[1] - times[0] >= 0.95  # waited what the server asked, not 10 ms


def test_openai_retries_server_errors_with_growing_backoff(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        return (500, {}, {"error": "boom"}, 0.0) if n < 3 else echo_chat(path, body, n)

    server = serve(behave)
    llm = OpenAILLM(f"openai:m@{server.url}", Settings(llm_retries=3), backoff=0.1)
    assert llm.generate(["x"]) == ["re: x"]
    t = [r[3] for r in server.requests]
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert len(t) == 4 and gaps[0] >= 0.05 and gaps[2] >= 0.2  # 0.1·2^k with jitter in [0.5, 1]


def test_openai_error_after_last_retry_has_status_and_body(serve: Any) -> None:
    server = serve(lambda p, b, n: (503, {}, {"error": "overloaded right now"}, 0.0))
    with pytest.raises(LLMError, match=r"HTTP 503.*overloaded right now"):
        client(server, llm_retries=2).generate(["x"])
    assert len(server.requests) == 3


def test_openai_client_errors_are_not_retried(serve: Any) -> None:
    server = serve(lambda p, b, n: (401, {}, {"error": "bad key"}, 0.0))
    with pytest.raises(LLMError, match="HTTP 401.*bad key"):
        client(server).generate(["x"])
    assert len(server.requests) == 1


def test_openai_timeouts_are_retried_then_reported(serve: Any) -> None:
    slow_once = serve(lambda p, b, n: (*echo_chat(p, b, n)[:3], 1.0 if n == 0 else 0.0))
    assert client(slow_once, llm_timeout=0.3).generate(["x"]) == ["re: x"]
    assert len(slow_once.requests) == 2
    always_slow = serve(lambda p, b, n: (*echo_chat(p, b, n)[:3], 1.0))
    with pytest.raises(LLMError, match="(?i)timeout"):
        client(always_slow, llm_timeout=0.2, llm_retries=1).generate(["x"])
    assert len(always_slow.requests) == 2


def test_openai_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    llm = OpenAILLM(f"openai:m@http://127.0.0.1:{port}/v1", Settings(llm_retries=2), backoff=0.01)
    with pytest.raises(LLMError, match="after 3 attempts"):
        llm.generate(["x"])


def test_openai_concurrency_is_bounded(serve: Any) -> None:
    server = serve(lambda p, b, n: (*echo_chat(p, b, n)[:3], 0.15))
    started = time.perf_counter()
    out = client(server, llm_concurrency=3).generate([str(i) for i in range(12)])
    elapsed = time.perf_counter() - started
    assert out == [f"re: {i}" for i in range(12)]
    assert 2 <= server.max_inflight <= 3
    assert elapsed < 12 * 0.15 * 0.8  # really concurrent: about 4 rounds, not 12


def test_openai_falls_back_to_completions(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        if path.endswith("/chat/completions"):
            return 400, {}, {"error": "this model has no chat template"}, 0.0
        return 200, {}, {"choices": [{"text": body["prompt"].upper() + "\nmore"}]}, 0.0

    server = serve(behave)
    llm = client(server, llm_concurrency=1)
    assert llm.generate(["ab", "cd"], stop=["\n"]) == ["AB", "CD"]
    assert server.paths() == ["/v1/chat/completions", "/v1/completions", "/v1/completions"]


def _echo_logprobs(path: str, body: dict[str, Any], n: int) -> Any:
    """Completions with echo: one token per character, each with log-probability -0.5; first is None."""
    text = body["prompt"]
    tokens = [-0.5] * len(text) + [-0.1]
    tokens[0] = None  # type: ignore[call-overload]
    lp = {"tokens": list(text) + ["!"], "token_logprobs": tokens, "text_offset": list(range(len(text) + 1))}
    assert body["echo"] is True and body["logprobs"] == 1
    return 200, {}, {"choices": [{"text": text + "!", "logprobs": lp}]}, 0.0


def test_openai_logprob_via_completions_echo(serve: Any) -> None:
    server = serve(_echo_logprobs)
    scores = client(server).logprob(["abc", "hello "], ["de", "world"])
    assert scores == [pytest.approx(-1.0), pytest.approx(-2.5)]
    assert set(server.paths()) == {"/v1/completions"}


def test_openai_logprob_unsupported_is_not_implemented(serve: Any) -> None:
    no_echo = serve(lambda p, b, n: (400, {}, {"error": "echo is not supported"}, 0.0))
    with pytest.raises(NotImplementedError):
        client(no_echo).logprob(["a"], ["b"])
    no_logprobs = serve(lambda p, b, n: (200, {}, {"choices": [{"text": "x"}]}, 0.0))
    with pytest.raises(NotImplementedError):
        client(no_logprobs).logprob(["a"], ["b"])


# Malformed 200 replies real proxies and overloaded servers send: an HTML error page, JSON cut short,
# no choices, a choice without message/text, a body that is JSON but not an object.
MALFORMED = {
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "truncated": b'{"choices": [{"message": {"role": "assistant", "content": "Paris | capi',
    "empty_choices": {"choices": []},
    "no_message": {"choices": [{"index": 0, "finish_reason": "stop"}]},
    "no_choices": {"object": "error"},
    "not_object": [1, 2],
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_openai_malformed_replies_are_retried(serve: Any, kind: str) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        return (200, {}, MALFORMED[kind], 0.0) if n < 2 else echo_chat(path, body, n)

    server = serve(behave)
    assert client(server).generate(["x"]) == ["re: x"]
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_openai_malformed_replies_end_in_bad_reply_after_retries(serve: Any, kind: str) -> None:
    server = serve(lambda p, b, n: (200, {}, MALFORMED[kind], 0.0))
    with pytest.raises(BadReply) as caught:  # never an IndexError/KeyError traceback
        client(server, llm_retries=2).generate(["x"])
    message = str(caught.value)
    assert "openai:test-model" in message and "chat/completions" in message and "after 3 attempts" in message
    excerpt = MALFORMED[kind] if isinstance(MALFORMED[kind], bytes) else json.dumps(MALFORMED[kind]).encode()
    assert " ".join(excerpt.decode().split())[:40] in message  # the body excerpt names what came back
    assert len(server.requests) == 3


def test_openai_malformed_completions_reply_is_retried(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        return (200, {}, {"choices": [{"index": 0}]}, 0.0) if n == 0 else (200, {}, {"choices": [{"text": "ok"}]}, 0.0)

    llm = OpenAILLM(f"openai:m@{serve(behave).url}", Settings(llm_retries=2), endpoint="completions", backoff=0.01)
    assert llm.generate(["x"]) == ["ok"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_openai_each_server_error_is_retried(serve: Any, status: int) -> None:
    server = serve(lambda p, b, n: (status, {}, b"<html>upstream error</html>", 0.0) if n == 0 else echo_chat(p, b, n))
    assert client(server).generate(["x"]) == ["re: x"]
    assert len(server.requests) == 2


def test_openai_dropped_connections_are_retried_then_reported(serve: Any) -> None:
    once = serve(lambda p, b, n: (200, {}, DROP, 0.0) if n == 0 else echo_chat(p, b, n))
    assert client(once).generate(["x"]) == ["re: x"]
    assert len(once.requests) == 2
    always = serve(lambda p, b, n: (200, {}, DROP, 0.0))
    with pytest.raises(LLMError, match="after 2 attempts"):
        client(always, llm_retries=1).generate(["x"])


def test_openai_logprob_failures_are_errors_not_missing_capability(serve: Any) -> None:
    """An outage or a malformed reply never makes a scorer look unable to score; a good reply after it scores."""
    for fault in [(503, {}, {"error": "overloaded"}, 0.0), (200, {}, b"<html>proxy</html>", 0.0), (200, {}, {"choices": []}, 0.0)]:
        server = serve(lambda p, b, n, fault=fault: fault)
        llm = client(server, llm_retries=1)
        with pytest.raises(LLMError):
            llm.logprob(["abc"], ["de"])
        with pytest.raises(LLMError):
            llm.yes_no(["Is it?"])
    flaky = serve(lambda p, b, n: (502, {}, b"bad gateway", 0.0) if n < 2 else _echo_logprobs(p, b, n))
    llm = client(flaky, llm_concurrency=1)
    assert llm.logprob(["abc"], ["de"]) == [pytest.approx(-1.0)]


def _top(tokens: dict[str, float]) -> dict[str, Any]:
    """A chat reply whose one generated token has these top alternatives (the first is the token itself)."""
    first = next(iter(tokens))
    alternatives = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in tokens.items()]
    content = [{"token": first, "logprob": tokens[first], "top_logprobs": alternatives}]
    return {"choices": [{"message": {"role": "assistant", "content": first}, "logprobs": {"content": content}}]}


def test_openai_yes_no_from_chat_top_logprobs(serve: Any) -> None:
    replies = {
        "a": {"Yes": -0.2, " yes": -2.0, "No": -1.9},  # spellings of one answer add up
        "b": {"No": -0.05, "Maybe": -4.0, "YES": -5.5},  # case ignored
        "c": {"Yes": -0.01, "Sure": -6.0},  # "No" unlisted: the lowest listed logprob stands in
        "d": {"Paris": -0.1, "London": -3.0},  # neither: no evidence either way
    }
    server = serve(lambda p, b, n: (200, {}, _top(replies[b["messages"][0]["content"]]), 0.0))
    llm = client(server)
    assert isinstance(llm, LLM) and yes_no_scorer(llm) is llm and scorer(llm) is llm
    odds = llm.yes_no(["a", "b", "c", "d"])
    yes_a = math.log(math.exp(-0.2) + math.exp(-2.0))
    assert odds == [pytest.approx(yes_a + 1.9), pytest.approx(-5.5 + 0.05), pytest.approx(-0.01 + 6.0), 0.0]
    body = server.requests[0][1]
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 20 and "echo" not in body
    assert set(server.paths()) == {"/v1/chat/completions"}  # one request per prompt
    assert len(server.requests) == 4


def test_openai_yes_no_on_completions(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        return 200, {}, {"choices": [{"text": " No", "logprobs": {"top_logprobs": [{" No": -0.3, " Yes": -1.5}]}}]}, 0.0

    server = serve(behave)
    llm = OpenAILLM(f"openai:m@{server.url}", Settings(), endpoint="completions")
    assert llm.yes_no(["q"]) == [pytest.approx(-1.2)]
    assert server.requests[0][1]["logprobs"] == 5 and server.requests[0][1]["max_tokens"] == 1


def test_openai_reply_without_logprobs_is_a_missing_capability_remembered(serve: Any) -> None:
    server = serve(lambda p, b, n: (200, {}, chat("Yes"), 0.0))  # well-formed, but no logprobs
    llm = client(server, llm_concurrency=1)
    with pytest.raises(NotImplementedError, match="top logprobs"):
        llm.yes_no(["q1", "q2", "q3"])
    with pytest.raises(NotImplementedError):
        llm.yes_no(["q4"])
    assert len(server.requests) == 1  # learnt from the first good reply; not asked again


def test_openai_base_url_and_key_resolution(monkeypatch: Any) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert OpenAILLM("openai:gpt-x", Settings()).model_id == "openai:gpt-x"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env-host:1234/v1")
    assert OpenAILLM("openai:m", Settings()).base_url == "http://env-host:1234/v1"
    assert OpenAILLM("openai:m", Settings(llm_base_url="http://cfg:9/v1")).base_url == "http://cfg:9/v1"
    assert OpenAILLM("openai:m@http://spec:8/v1", Settings(llm_base_url="http://cfg:9/v1")).base_url == "http://spec:8/v1"
    assert OpenAILLM("openai:m@http://spec:8/v1", Settings()).model_id == OpenAILLM("openai:m@http://other:9/v1").model_id
    with pytest.raises(ConfigError):
        OpenAILLM("openai:", Settings())
    with pytest.raises(ConfigError):
        OpenAILLM("openai:m@not-a-url", Settings())


# -- CachedLLM ----------------------------------------------------------------------------------


def echoing() -> ScriptedLLM:
    """A deterministic backend whose answer shows the request (the prompt reversed, max_new_tokens, stops)."""
    return ScriptedLLM(lambda p, n, stop: f"{p[::-1]}|{n}|{','.join(stop)}", model_id="scripted:v1")


class ScriptedScorer(ScriptedLLM):
    def __init__(self) -> None:
        super().__init__(lambda p, n, stop: f"{p[::-1]}|{n}|{','.join(stop)}", model_id="scripted:v1")

    def logprob(self, contexts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        self.batches.append([c + x for c, x in zip(contexts, continuations)])
        return [-float(len(x)) for x in continuations]


def test_cache_second_call_makes_no_backend_calls(tmp_path: Path) -> None:
    inner = echoing()
    llm = CachedLLM(inner, tmp_path / "c.sqlite")
    first = llm.generate(["a", "b", "c"], max_new_tokens=5)
    assert llm.generate(["a", "b", "c"], max_new_tokens=5) == first
    assert inner.batches == [["a", "b", "c"]] and llm.calls == 3 and llm.hits == 3


def test_cache_persists_across_instances(tmp_path: Path) -> None:
    CachedLLM(echoing(), tmp_path / "c.sqlite").generate(["x", "y"], stop=["\n"])
    again = CachedLLM(inner := echoing(), tmp_path / "c.sqlite")
    assert again.generate(["x", "y"], stop=["\n"]) == ["x|128|\n", "y|128|\n"]
    assert inner.batches == [] and again.calls == 0 and again.hits == 2


def test_cache_mixed_hits_and_misses_keep_order(tmp_path: Path) -> None:
    inner = echoing()
    llm = CachedLLM(inner, tmp_path / "c.sqlite")
    llm.generate(["b", "d"])
    out = llm.generate(["a", "b", "c", "d", "a"])
    assert out == ["a|128|", "b|128|", "c|128|", "d|128|", "a|128|"]
    assert inner.batches[-1] == ["a", "c"]  # one batched call with only the misses, each once
    assert (llm.calls, llm.hits) == (4, 3)
    llm.generate(["a"], max_new_tokens=9)  # a different request is a different entry
    llm.generate(["a"], stop=["."])
    assert llm.calls == 6 and model_id_of(llm) == "scripted:v1"


def model_id_of(llm: LLM) -> str:
    return llm.model_id


def test_cache_logprob_only_when_the_backend_scores(tmp_path: Path) -> None:
    plain = CachedLLM(echoing(), tmp_path / "c.sqlite")
    assert not hasattr(plain, "logprob") and isinstance(plain.inner, ScriptedLLM)
    inner = ScriptedScorer()
    scoring = CachedLLM(inner, tmp_path / "c.sqlite")
    assert scoring.logprob(["a", "b"], ["xy", "z"]) == [-2.0, -1.0]
    assert scoring.logprob(["b", "q"], ["z", "qqq"]) == [-1.0, -3.0]
    assert inner.batches == [["axy", "bz"], ["qqqq"]] and scoring.hits == 1


class ScriptedYesNo(ScriptedLLM):
    """Answers yes/no with a log-odds; fails (as a backend does after its retries) on prompts saying 'fail'."""

    def __init__(self) -> None:
        super().__init__("", model_id="scripted:v1")

    def yes_no(self, prompts: Sequence[str]) -> list[float]:
        self.batches.append(list(prompts))
        if any("fail" in p for p in prompts):
            raise LLMError("scripted: failed after 3 attempts")
        return [float(len(p)) for p in prompts]


def test_cache_declares_exactly_the_backends_capabilities(tmp_path: Path) -> None:
    assert scorer(CachedLLM(echoing(), tmp_path / "c.sqlite")) is None
    assert yes_no_scorer(CachedLLM(echoing(), tmp_path / "c.sqlite")) is None
    both = CachedLLM(OpenAILLM("openai:m@http://127.0.0.1:9/v1", Settings()), tmp_path / "c.sqlite")
    assert scorer(both) is both and yes_no_scorer(both) is both and isinstance(both, CachedLLM)
    only = CachedLLM(ScriptedYesNo(), tmp_path / "c.sqlite")
    assert yes_no_scorer(only) is only and scorer(only) is None


def test_cache_yes_no_is_cached_and_failures_are_not_stored(tmp_path: Path) -> None:
    inner = ScriptedYesNo()
    llm = CachedLLM(inner, tmp_path / "c.sqlite")
    assert llm.yes_no(["ab", "abc"]) == [2.0, 3.0]
    with pytest.raises(LLMError):
        llm.yes_no(["abc", "fail now"])
    assert llm.yes_no(["abc", "ab"]) == [3.0, 2.0] and inner.batches == [["ab", "abc"], ["fail now"]]
    with pytest.raises(LLMError):
        llm.yes_no(["fail now"])  # the failure was not stored: asked again
    assert inner.batches[-1] == ["fail now"]
    fresh = CachedLLM(ScriptedYesNo(), tmp_path / "c.sqlite")
    assert fresh.yes_no(["ab"]) == [2.0] and fresh.inner.batches == []  # on disk


def _fill(path: str, worker: int) -> None:
    llm = CachedLLM(echoing(), path)
    for i in range(40):
        llm.generate([f"shared {i}", f"own {worker} {i}"])


def test_cache_is_safe_for_concurrent_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fill, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    check = CachedLLM(inner := echoing(), path)
    check.generate([f"shared {i}" for i in range(40)] + [f"own 2 {i}" for i in range(40)])
    assert inner.batches == [] and check.hits == 80


def test_openai_refused_key_is_an_error_not_a_missing_capability(serve: Any) -> None:
    server = serve(lambda p, b, n: (401, {}, {"error": "invalid api key"}, 0.0))
    llm = client(server)
    with pytest.raises(LLMError, match="HTTP 401"):
        llm.logprob(["a"], ["b"])
    with pytest.raises(LLMError, match="HTTP 401"):
        llm.yes_no(["q"])


# -- structured output (a JSON schema per prompt) -------------------------------------------------

SCHEMA = {"type": "object", "properties": {"triples": {"type": "array", "maxItems": 2, "items": {
    "type": "object", "properties": {"head": {"type": "string", "enum": ["Ulm", "Germany"]}}}}}}  # fmt: skip


def test_openai_structured_sends_the_schema_in_response_format(serve: Any) -> None:
    server = serve(lambda p, b, n: (200, {}, chat('{"triples": []}'), 0.0))
    llm = client(server)
    assert structured_generator(llm) is llm
    assert llm.generate_structured(["a", "b"], [SCHEMA, {"type": "object"}], max_new_tokens=40) == ['{"triples": []}'] * 2
    bodies = sorted((b for _, b, _, _ in server.requests), key=lambda b: b["messages"][0]["content"])
    assert bodies[0]["response_format"] == {"type": "json_schema", "json_schema": {"name": "triples", "schema": SCHEMA}}
    assert bodies[1]["response_format"]["json_schema"]["schema"] == {"type": "object"}  # each prompt its own schema
    assert bodies[0]["temperature"] == 0 and bodies[0]["max_tokens"] == 40 and "json_schema" not in bodies[0]
    with pytest.raises(ValueError, match="one schema per prompt"):
        llm.generate_structured(["a"], [])


def test_openai_structured_on_completions_adds_llama_cpps_field(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        if path.endswith("chat/completions"):
            return 400, {}, {"error": {"message": "this model has no chat template"}}, 0.0
        return 200, {}, {"choices": [{"text": '{"triples": []}'}]}, 0.0

    server = serve(behave)
    assert client(server).generate_structured(["a"], [SCHEMA]) == ['{"triples": []}']
    path, body, _, _ = server.requests[-1]
    assert path == "/v1/completions" and body["prompt"] == "a"
    assert body["json_schema"] == SCHEMA and body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_openai_structured_refused_by_name_is_a_missing_capability_remembered(serve: Any) -> None:
    refusal = {"error": {"message": "Unrecognized request argument supplied: response_format"}}
    server = serve(lambda p, b, n: (400, {}, refusal, 0.0))
    llm = client(server)
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="structured output.*response_format"):
            llm.generate_structured(["a"], [SCHEMA])
    assert len(server.requests) == 1  # learnt once


def test_openai_structured_other_failures_decide_nothing(serve: Any) -> None:
    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        if n == 0:
            return 400, {}, {"error": {"message": "prompt is longer than the context window"}}, 0.0
        if n == 1:
            return 503, {}, {"error": "overloaded"}, 0.0
        return 200, {}, chat('{"triples": []}'), 0.0

    server = serve(behave)
    llm = client(server)
    with pytest.raises(LLMError, match="context window"):  # a 4xx that does not name the parameter: this request failed
        llm.generate_structured(["a"], [SCHEMA])
    assert llm.generate_structured(["a"], [SCHEMA]) == ['{"triples": []}']  # 503 retried; nothing remembered
    assert len(server.requests) == 3


def test_cache_stores_structured_replies_but_not_refusals(serve: Any, tmp_path: Path) -> None:
    answers = iter([(400, {}, {"error": {"message": "response_format is not supported"}}, 0.0)])

    def behave(path: str, body: dict[str, Any], n: int) -> Any:
        return next(answers, (200, {}, chat('{"triples": [] }'), 0.0))

    server = serve(behave)
    cached = CachedLLM(client(server), tmp_path / "c.sqlite")
    assert structured_generator(cached) is cached and scorer(cached) is not None  # every capability declared
    assert structured_generator(CachedLLM(echoing(), tmp_path / "d.sqlite")) is None
    with pytest.raises(NotImplementedError):
        cached.generate_structured(["a"], [SCHEMA])
    fresh = CachedLLM(client(server), tmp_path / "c.sqlite")  # a new backend: the refusal was not stored
    assert fresh.generate_structured(["a", "a"], [SCHEMA, SCHEMA]) == ['{"triples": [] }'] * 2
    assert fresh.generate_structured(["a"], [SCHEMA]) == ['{"triples": [] }'] and (fresh.calls, fresh.hits) == (1, 2)
    assert fresh.generate_structured(["a"], [{"type": "object"}]) and fresh.calls == 2  # another schema: asked again
