"""Shared fixtures: one real FalkorDB server per test session, one real Gemma model per session."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Sequence

import pytest

from kgpipe.config import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "data" / "benchmarks"  # GraphJudger's extraction test sets, shipped with kgpipe (MIT)
# PathQuestion has no licence file, so it is not shipped: read from KGPIPE_PATHQUESTION or ../shared beside the clone.
PATHQUESTION = Path(os.environ.get("KGPIPE_PATHQUESTION", REPO.parent / "shared" / "data" / "qa" / "pathquestion"))
needs_pathquestion = pytest.mark.skipif(
    not (PATHQUESTION / "PQ-2H.txt").is_file(),
    reason=f"PathQuestion is not at {PATHQUESTION}: put 2H-kb.txt, PQ-2H.txt... there or set KGPIPE_PATHQUESTION "
    "(see data/README.md)",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the real Gemma (the ``gemma`` fixture) is slow, so the quick loop never loads it."""
    for item in items:
        if "gemma" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _quick_tests_load_no_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quick loop (``-m "not slow"``) loads no model: a test not marked slow that loads Gemma (or any model
    through transformers) or MiniLM fails with a message saying to mark it."""
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{request.node.nodeid} loads a model but is not marked @pytest.mark.slow")

    import kgpipe.llms.transformers as backend

    load = backend._load
    scratch = request.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]

    def load_tiny_only(source: str, *args: object, **kwargs: object) -> object:
        # Tiny random models a test writes to its own tmp folder load; the packaged Gemma does not
        # (a name that exists nowhere still reaches the loader, which must refuse it without a download).
        path = Path(source)
        if path.exists() and not path.resolve().is_relative_to(scratch.resolve()):
            refuse()
        return load(source, *args, **kwargs)

    monkeypatch.setattr("kgpipe.llms.embed.load_minilm", refuse)
    monkeypatch.setattr(backend, "_load", load_tiny_only)


@pytest.fixture(scope="session", autouse=True)
def _stop_falkordb_servers(tmp_path_factory: pytest.TempPathFactory):
    """Embedded servers outlive the process that starts them (CLI reuse); stop those this session started."""
    yield
    from kgpipe.stores.falkordb_server import stop_server

    for record in tmp_path_factory.getbasetemp().glob("**/falkordb/server.json"):
        stop_server(record.parent.parent)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state folder (so one embedded FalkorDB server) for the whole test session."""
    return tmp_path_factory.mktemp("kgpipe-state")


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """Where the de-quantised default model is cached; shared across sessions to keep test runs fast."""
    return Path(os.environ.get("KGPIPE_MODEL_CACHE", Path.home() / ".cache" / "kgpipe" / "models"))


@pytest.fixture
def settings(state_dir: Path) -> Settings:
    """Settings with the shared state folder and a graph of its own, so tests never see each other's data; no ontology
    (the default is the general one), so scripted replies are taken as written unless a test sets one.

    Relation canonicalisation and chunk embeddings are off (they load MiniLM); tests of them turn them on."""
    return Settings(state_dir=str(state_dir), graph=f"test_{uuid.uuid4().hex[:12]}", progress=False, ontology="",
                    canonical_relations=False, chunk_vectors=False)


@pytest.fixture
def store(settings: Settings):
    """A real FalkorDB store (the embedded server kgpipe starts) on an empty graph of its own."""
    from kgpipe.stores import resolve_store

    st = resolve_store("falkordb", settings)
    yield st
    try:
        st.execute("MATCH (n) DETACH DELETE n", write=True)
    finally:
        st.close()


@pytest.fixture(scope="session")
def gemma(state_dir: Path):
    """The packaged Gemma 3 270M through the local transformers backend, without the response cache."""
    from kgpipe.llms.transformers import TransformersLLM

    return TransformersLLM("gemma", Settings(state_dir=str(state_dir), progress=False))


@pytest.fixture
def import_kb(tmp_path: Path, settings: Settings, store):
    """``import_kb(triples)``: import ``(head, relation, tail)`` tuples, or TSV text, into the test's graph."""
    from kgpipe.ingest.interchange import import_triples

    def load(triples, name: str = "kb.tsv") -> Path:
        path = tmp_path / name
        text = triples if isinstance(triples, str) else "".join(f"{h}\t{r}\t{t}\n" for h, r, t in triples)
        path.write_text(text, encoding="utf-8")
        import_triples(path, settings=settings, store=store)
        return path

    return load


class ScriptedLLM:
    """The tests' one scripted LLM: answers from a script and records every batch it is sent.

    ``replies``: one string (the answer to every prompt), a list (answers in order), or a function
    ``(prompt, max_new_tokens, stop) -> answer``. It has no tokenizer or scoring, like a minimal HTTP
    backend (subclass it to add a capability). For prompt, parsing and wiring checks only: never a
    stage's only test.
    """

    def __init__(self, replies: "str | list[str] | Callable[[str, int, tuple[str, ...]], str]",
                 model_id: str = "scripted") -> None:  # fmt: skip
        self.replies, self.model_id = replies, model_id
        self.batches: list[list[str]] = []

    @property
    def prompts(self) -> list[str]:
        return [p for batch in self.batches for p in batch]

    def generate(self, prompts: Sequence[str], *, max_new_tokens: int = 128, stop: Sequence[str] = ()) -> list[str]:
        self.batches.append(list(prompts))
        if isinstance(self.replies, str):
            return [self.replies for _ in prompts]
        if isinstance(self.replies, list):
            return [self.replies.pop(0) for _ in prompts]
        return [self.replies(p, max_new_tokens, tuple(stop)) for p in prompts]


@pytest.fixture
def fixed_reply():
    """``fixed_reply(text)``: an LLM that always answers ``text`` (a ``ScriptedLLM``)."""
    return ScriptedLLM


@pytest.fixture
def serve():
    """``serve(behave)``: a scripted OpenAI-compatible server on 127.0.0.1 (``fake_openai.FakeOpenAI``),
    shut down after the test."""
    from fake_openai import FakeOpenAI

    servers: list[FakeOpenAI] = []

    def start(behave) -> FakeOpenAI:
        servers.append(FakeOpenAI(behave))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


SAMPLE = REPO / "data" / "sample"
SAMPLE_GOLD = REPO / "data" / "sample_gold.tsv"


def gold_extractor() -> ScriptedLLM:
    """A scripted extractor for ``data/sample``: each chunk gets the gold facts (``data/sample_gold.tsv``) whose head
    and tail one of its sentences names. It builds the sample graph with real chunks, mentions and provenance without loading a model;
    for tests of what reads the graph (serving), never of extraction."""
    gold = [line.split("\t")[:3] for line in SAMPLE_GOLD.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]  # fmt: skip

    def answer(prompt: str, *_: object) -> str:
        sentences = prompt.rsplit("Text:", 1)[-1].lower().split(". ")
        lines = [f"{h} | {r} | {t}" for h, r, t in gold if any(h.lower() in s and t.lower() in s for s in sentences)]
        return "\n".join(lines + ["END"])

    return ScriptedLLM(answer, model_id="scripted-gold")


@pytest.fixture(scope="session")
def sample_graph(state_dir: Path) -> Settings:
    """Settings of a graph built once from ``data/sample`` by ``gold_extractor`` (free extraction, no judge); tests
    read it and must not change it."""
    from kgpipe.ingest.pipeline import build

    settings = Settings(state_dir=str(state_dir), graph=f"sample_{uuid.uuid4().hex[:12]}", progress=False, ontology="",
                        canonical_relations=False, chunk_vectors=False, extraction="free", judge=False,
                        llm_cache=False)  # fmt: skip
    result = build(SAMPLE, settings, llm=gold_extractor())
    assert result.documents_built == len(list(SAMPLE.iterdir())) and result.graph["facts"] > 10, result.summary()
    return settings
