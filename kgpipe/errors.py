"""kgpipe's exceptions, all under one root so callers can catch ``KgpipeError``.

::

    KgpipeError
    ├── ConfigError            bad setting, unknown backend name, bad kgpipe.toml
    │   └── MissingCapability  the LLM backend lacks what a command needs (a local model's logits...)
    ├── MissingDependency      an optional package is not installed (message has the pip command)
    ├── LoadError              a file could not be read (the loader reports and skips these)
    ├── LLMError               a backend failed after its retries
    │   ├── BadReply           the endpoint kept answering with something that is not a reply (HTML, cut-short JSON, no choices)
    │   └── ModelUnavailable   a model cannot be loaded without downloading it
    ├── StoreError             the graph store failed or could not be started
    │   └── StoreUnavailable   no server reachable / server failed to start
    ├── UnsafeQuery            a query would write (or call a procedure) without --write
    ├── NoEntityLinked         a question names no entity of the graph (kgpipe ask)
    └── DataError              input data (triples, ontology, gold files) is malformed
        ├── NotEnoughData      a graph too small or too disconnected to learn embeddings from
        └── NotFound           an entity, fact, document or job id the graph or server does not hold (HTTP 404)
"""

from __future__ import annotations


class KgpipeError(Exception):
    """Root of every error kgpipe raises on purpose."""


class ConfigError(KgpipeError):
    """A setting, configuration file or backend name is invalid."""


class MissingCapability(ConfigError):
    """The LLM backend lacks a capability the command needs; the message names it and backends that have it."""


class MissingDependency(KgpipeError):
    """An optional package is missing; the message names the install command."""

    def __init__(self, package: str, purpose: str, install: str | None = None) -> None:
        super().__init__(f"{purpose} needs the package {package!r}: pip install {install or package}")
        self.package = package


class LoadError(KgpipeError):
    """A document could not be loaded."""


class LLMError(KgpipeError):
    """An LLM backend failed after its retries."""


class BadReply(LLMError):
    """An endpoint answered 200 with a body that is not a usable reply, on every attempt."""


class ModelUnavailable(LLMError):
    """A model is not available locally and kgpipe never downloads at run time."""


class StoreError(KgpipeError):
    """The graph store failed."""


class StoreUnavailable(StoreError):
    """No store server could be reached or started."""


class UnsafeQuery(KgpipeError):
    """A query would change the graph but was not run with ``write=True``."""


class NoEntityLinked(KgpipeError):
    """A question names no entity the graph contains, so there is nothing to reason from."""


class DataError(KgpipeError):
    """Input data is malformed (triples file, ontology, gold data)."""


class NotEnoughData(DataError):
    """The graph is too small or too disconnected to train a completion model on."""


class NotFound(DataError):
    """An entity, fact, document or job id that the graph (or the server) does not hold."""
