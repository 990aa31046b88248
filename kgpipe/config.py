"""One typed settings object, read from ``kgpipe.toml``, then ``KGPIPE_*`` environment variables, then flags.

Later sources win::

    settings = load_settings(overrides={"llm": "openai:gpt-4o-mini"})

``kgpipe.toml`` may hold the keys at top level or under a ``[kgpipe]`` table.
Environment variables are the field names upper-cased with a ``KGPIPE_`` prefix
(``KGPIPE_STORE``, ``KGPIPE_CHUNK_TOKENS``...).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import tomllib

from .errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Everything a build, query or benchmark needs to know. Defaults run fully offline on a laptop."""

    state_dir: str = ".kgpipe"  # embedded store data, LLM cache, model cache, build journal
    store: str = "falkordb"  # "falkordb" (embedded), "falkordb://host:port", or a neo4j URI
    graph: str = "kgpipe"  # graph name (FalkorDB) / database (Neo4j, empty = default)
    neo4j_user: str = ""  # falls back to NEO4J_USERNAME / NEO4J_USER
    neo4j_password: str = ""  # falls back to NEO4J_PASSWORD
    llm: str = "gemma"  # "gemma" (packaged Gemma 3 270M), "hf:<id or path>", "openai:<model>[@base_url]"
    llm_base_url: str = ""  # OpenAI-compatible endpoint (falls back to OPENAI_BASE_URL)
    llm_api_key: str = ""  # falls back to OPENAI_API_KEY
    llm_concurrency: int = 4
    llm_timeout: float = 120.0
    llm_retries: int = 4
    llm_backoff: float = 0.5  # seconds before the first retry, doubling each time (with jitter, up to 30 s)
    llm_cache: bool = True
    batch_size: int = 8  # prompts per local generation batch
    max_new_tokens: int = 96
    aliases: str = ""  # curated alias file for fusion (TSV: one entity a line, its names separated by tabs); empty = none
    place_aliases: str = "pycountry,countryinfo,geonames"  # packaged gazetteers whose country and city names fusion joins; "" = off
    name_aliases: str = "wordnet"  # packaged dictionaries whose synonyms of persons, places, organisations and events fusion joins; "" = off
    ontology: str = "general"  # a name in ontologies/ ("general", "scierc") or a path; empty = none (free relations)
    judge: bool = True  # verify every triple against its source chunk (GraphJudger); rejected ones go to the report
    judge_threshold: float = 0.3  # keep triples whose combined confidence is at least this
    extraction: str = "grounded"  # "grounded": every name a span of its chunk, every relation the ontology's (a local model
    # decodes under that grammar; an HTTP model's output is validated and snapped); "free": as the model wrote it
    max_triples: int = 3  # most triples grounded extraction writes per sentence
    structured_output: str = "auto"  # grounded, HTTP model: "auto" sends a JSON schema of the sentence's names and the
    # ontology's relations where the server takes one (else free output + snap), "on" fails when it does not, "off" never
    canonical_relations: bool = True  # map relation wordings to the ontology's labels, or cluster them by meaning (MiniLM); the wording is kept on the fact; grounded: MiniLM re-chooses each line's label once its tail is known
    patterns: bool = True  # grounded: facts stated by form (place chains "Armonk, New York", life dates "(1868 – 1953)")
    resolve_references: bool = True  # replace pronouns and "the company"-style references by names before extraction
    denoise: bool = False  # rewrite each chunk as short factual sentences before extraction (one more LLM call per chunk)
    chunk_tokens: int = 60  # token budget per chunk (word and punctuation tokens); small models extract better from short chunks
    chunk_overlap: int = 1  # sentences repeated at the start of the next chunk
    chunk_vectors: bool = True  # embed every chunk (MiniLM) into the store's vector index on Chunk, for ask's reading
    write_batch: int = 5000  # rows per UNWIND statement
    engine: str = "local"  # "local": extract and judge in this process; "ray": on a Ray cluster (the ray extra)
    ray_address: str = ""  # the Ray cluster to join (host:port, "auto", ray://...); empty = start one on this machine
    ray_actors: int = 2  # Ray actors that extract and judge, each holding its own LLM (model or HTTP client)
    query_timeout_ms: int = 30000
    query_limit: int = 10000  # most rows a read (kgpipe query / kgpipe.query) returns, enforced at the server; 0 = no cap
    ask_paths: int = 3  # reasoning paths (beams) kgpipe ask returns
    ask_hops: int = 2  # most hops in a reasoning path
    ask_min_relevance: float = 0.0  # abstain when the best path's nearest hop is less similar to the question
    ask_text: bool = True  # on a graph built from documents, check the answer against them, or read it from them
    reasoner: str = ""  # LLM that writes the final answer from the paths (any backend spec); empty = the path ends
    cypher_limit: int = 100  # most rows a generated (Text2Cypher) query may return; a larger LIMIT is capped
    context_hops: int = 2  # KG-RAG: hops of fact neighbourhood fetched around the question's entities (2: multi-hop questions)
    context_top_k: int = 10  # KG-RAG: most facts kept after embedding pruning
    context_percentile: float = 75.0  # KG-RAG: keep facts whose similarity to the question reaches this percentile
    context_max_facts: int = 2000  # KG-RAG: neighbourhood size cap before pruning
    progress: bool = True

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **_coerce_all(changes, source="arguments"))

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)


def _coerce(name: str, value: Any, kind: type, source: str) -> Any:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in {"1", "true", "yes", "on"}:
                    return True
                if low in {"0", "false", "no", "off", ""}:
                    return False
                raise ValueError(value)
            return bool(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {name} must be {kind.__name__}, got {value!r}") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _coerce_all(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = {f.name: _TYPES[f.type] for f in fields(Settings)}
    out = {}
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{source}: unknown setting {name!r} (known: {', '.join(sorted(known))})")
        out[name] = _coerce(name, value, known[name], source)
    return out


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from ``kgpipe.toml`` (or ``config_file``), then ``KGPIPE_*`` env vars, then ``overrides``.

    ``None`` values in ``overrides`` are ignored, so CLI flags that were not given do not override.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else Path(environ.get("KGPIPE_CONFIG", "kgpipe.toml"))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        data = data.get("kgpipe", data)
        values.update(_coerce_all(data, source=str(path)))
    elif config_file:
        raise ConfigError(f"configuration file not found: {path}")
    names = {f.name for f in fields(Settings)}
    env = {k[7:].lower(): v for k, v in environ.items() if k.startswith("KGPIPE_") and k[7:].lower() in names}
    values.update(_coerce_all(env, source="environment"))
    values.update(_coerce_all({k: v for k, v in (overrides or {}).items() if v is not None}, source="flags"))
    return Settings(**values)
