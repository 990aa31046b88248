"""Graph stores behind one small contract, resolved by name in one place.

A store runs Cypher. Everything kgpipe writes or reads is a named query in ``kgpipe.stores.cypher`` run
through ``Store.execute``; the store only knows how to talk to its server, how to run a statement
read-only, and how to create its indexes. Names accepted wherever a store is::

    "falkordb"                    the embedded FalkorDB server kgpipe starts in ``<state_dir>/falkordb``
    "falkordb://host:port"        a FalkorDB (or Redis + FalkorDB module) server you run
    "neo4j://...", "bolt://...", "neo4j+s://..."   Neo4j through the official driver

Third-party stores register under the ``kgpipe.stores`` entry-point group (``"module:Class"``,
called as ``Class(spec, settings)``).

Both built-in stores clean every parameter and query text of the characters a store refuses
(NUL, lone surrogates) with ``kgpipe.stores.clean`` before running it; a third-party store should
call ``clean_params`` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, Mapping, Protocol, runtime_checkable

from ..errors import ConfigError
from ..registry import load_class, registered

if TYPE_CHECKING:
    from ..config import Settings


@dataclass
class QueryResult:
    """Rows of plain Python values (nodes and relationships become dicts).

    ``truncated``: more rows matched than a row cap let through (``kgpipe.query``'s ``limit``).
    """

    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@runtime_checkable
class Store(Protocol):
    """The whole contract a graph store implements."""

    name: str  # "falkordb" or "neo4j": picks dialect-specific statements in kgpipe.stores.cypher

    def execute(self, cypher: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> QueryResult:
        """Run one statement. ``write=False`` runs it read-only at the server (RO query / READ transaction)."""
        ...

    def ensure_schema(self) -> None:
        """Create the indexes kgpipe relies on (idempotent)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class RowStreaming(Protocol):
    """Optional capability: a read whose rows arrive one by one as the server sends them (Neo4j's driver).

    ``with store.stream(cypher, params) as (columns, rows): ...``; the rows iterator is valid inside
    the block only. FalkorDB's client returns whole results, so ``FalkorDBStore`` does not offer it.
    """

    def stream(
        self, cypher: str, params: Mapping[str, Any] | None = None
    ) -> ContextManager[tuple[list[str], Iterator[list[Any]]]]: ...


BACKENDS: dict[str, str] = {
    "falkordb": "kgpipe.stores.falkordb:FalkorDBStore",
    "neo4j": "kgpipe.stores.neo4j:Neo4jStore",
    "neo4j+s": "kgpipe.stores.neo4j:Neo4jStore",
    "neo4j+ssc": "kgpipe.stores.neo4j:Neo4jStore",
    "bolt": "kgpipe.stores.neo4j:Neo4jStore",
    "bolt+s": "kgpipe.stores.neo4j:Neo4jStore",
    "bolt+ssc": "kgpipe.stores.neo4j:Neo4jStore",
}


def open_store(settings: "Settings | None" = None, store: "Store | str | None" = None) -> Store:
    """The store named by ``store`` or the settings, connected, schema in place (embedded FalkorDB by default)."""
    from ..config import load_settings

    settings = settings or load_settings()
    return resolve_store(store if store is not None else settings.store, settings)


def resolve_store(spec: "str | Store", settings: "Settings | None" = None) -> Store:
    """Turn a store name or URI (or an instance) into a connected store with its schema in place."""
    from ..config import Settings

    if not isinstance(spec, str):
        return spec
    settings = settings or Settings()
    scheme = spec.split("://", 1)[0] if "://" in spec else spec
    backends = registered("kgpipe.stores", BACKENDS)
    if scheme not in backends:
        raise ConfigError(f"unknown store {spec!r}; use 'falkordb', 'falkordb://host:port' or a neo4j:// / bolt:// URI")
    store = load_class(backends[scheme])(spec, settings)
    store.ensure_schema()
    return store
