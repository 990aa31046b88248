"""Neo4j through the official driver: the production store.

``Neo4jStore("neo4j://host:7687", settings)`` (or ``bolt://``, ``neo4j+s://`` ...). Credentials come
from ``settings.neo4j_user`` / ``neo4j_password``, else ``NEO4J_USERNAME`` (or ``NEO4J_USER``) and
``NEO4J_PASSWORD``. The database is ``settings.graph``, except the default graph name ``"kgpipe"``,
which means the server's default database (Community edition has only that one).

Reads run in READ access-mode transactions, which the server refuses to write in — the
store-level half of a read-only query; writes run in write transactions. Managed transactions
retry transient failures (leader switch, deadlock), which is safe for kgpipe's ``MERGE``
statements. Results have the same plain shapes as ``FalkorDBStore`` (see there). Parameters and
query text are cleaned first (``kgpipe.stores.clean``: the driver cannot encode lone surrogates).

``stream`` hands rows over as the driver receives them (it fetches records in batches of
``fetch_size``), so ``kgpipe query`` prints them as they arrive.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependency, StoreError, StoreUnavailable, UnsafeQuery
from . import QueryResult, cypher
from .clean import clean_params, clean_text

if TYPE_CHECKING:
    from ..config import Settings

DEFAULT_GRAPH = "kgpipe"


class Neo4jStore:
    """One database on a Neo4j server (or cluster)."""

    name = "neo4j"

    def __init__(self, spec: str, settings: "Settings") -> None:
        try:
            import neo4j
        except ImportError:
            raise MissingDependency("neo4j", "the Neo4j store") from None
        self.settings = settings
        self.uri = spec
        user = settings.neo4j_user or os.environ.get("NEO4J_USERNAME") or os.environ.get("NEO4J_USER") or "neo4j"
        password = settings.neo4j_password or os.environ.get("NEO4J_PASSWORD", "")
        self.database = None if settings.graph in ("", DEFAULT_GRAPH) else settings.graph
        try:
            self.driver = neo4j.GraphDatabase.driver(spec, auth=(user, password))
            self.driver.verify_connectivity()
        except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, ValueError) as exc:
            raise StoreUnavailable(f"cannot reach Neo4j at {spec}: {exc}") from None

    def execute(self, cypher_text: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> QueryResult:
        """Run one statement in a managed transaction: READ access mode unless ``write=True``."""
        import neo4j

        timeout = None if write else self.settings.query_timeout_ms / 1000
        cypher_text, args = clean_text(cypher_text), clean_params(params)

        @neo4j.unit_of_work(timeout=timeout)
        def work(tx: "neo4j.ManagedTransaction") -> QueryResult:
            result = tx.run(cypher_text, args)
            columns = list(result.keys())
            return QueryResult(columns, [[to_python(value) for value in record.values()] for record in result])

        with self._errors():
            with self.driver.session(database=self.database) as session:
                return session.execute_write(work) if write else session.execute_read(work)
        raise AssertionError("unreachable")  # pragma: no cover (_errors re-raises)

    @contextmanager
    def stream(
        self, cypher_text: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[list[str], Iterator[list[Any]]]]:
        """A read (READ access mode, the query timeout) whose rows are yielded as the driver receives them.

        An explicit transaction rather than a managed one: a managed transaction function would have
        to consume the whole result before returning, and it would be retried after rows were shown.
        """
        import neo4j

        cypher_text, args = clean_text(cypher_text), clean_params(params)
        with self._errors():
            with self.driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
                with session.begin_transaction(timeout=self.settings.query_timeout_ms / 1000) as tx:
                    result = tx.run(cypher_text, args)
                    yield list(result.keys()), ([to_python(v) for v in record.values()] for record in result)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver exceptions as kgpipe's (a refused write in read mode is ``UnsafeQuery``)."""
        import neo4j

        try:
            yield
        except neo4j.exceptions.Neo4jError as exc:
            if (exc.code or "").endswith("AccessMode") or "in read access mode" in str(exc):
                raise UnsafeQuery(f"the server refused a writing query in read-only mode: {exc.message}") from None
            raise StoreError(f"Neo4j: {exc.message or exc}") from None
        except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired) as exc:
            raise StoreUnavailable(f"lost Neo4j at {self.uri}: {exc}") from None
        except neo4j.exceptions.DriverError as exc:
            raise StoreError(f"Neo4j driver: {exc}") from None

    def ensure_schema(self) -> None:
        """Uniqueness constraints on the ids kgpipe merges on (they are indexes too) and a path index."""
        for statement in cypher.schema_statements(self.name):
            self.execute(statement, write=True)

    def close(self) -> None:
        self.driver.close()

    def __repr__(self) -> str:
        return f"Neo4jStore({self.uri!r}, database={self.database!r})"


def to_python(value: Any) -> Any:
    """Driver values to the plain shapes FalkorDBStore returns (nodes, relationships, paths, temporals)."""
    from neo4j.graph import Node, Path, Relationship

    if isinstance(value, Node):
        return {"labels": sorted(value.labels), "properties": to_python(dict(value))}
    if isinstance(value, Relationship):
        return {"type": value.type, "properties": to_python(dict(value))}
    if isinstance(value, Path):
        items: list[Any] = [to_python(value.start_node)]
        for rel, node in zip(value.relationships, value.nodes[1:]):
            items.extend((to_python(rel), to_python(node)))
        return items
    if isinstance(value, Mapping):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if hasattr(value, "to_native"):  # neo4j.time.DateTime / Date / Time / Duration
        return value.to_native()
    return value
