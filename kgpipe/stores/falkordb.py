"""FalkorDB through its own client: the embedded server kgpipe starts, or one you run.

``FalkorDBStore("falkordb", settings)`` talks to the server in ``<state_dir>/falkordb`` (started on
first use, see ``falkordb_server``); ``FalkorDBStore("falkordb://[:password@]host:port", settings)``
to one you run. Never FalkorDB's Bolt port: it crashed the server on a batched ``UNWIND``.

Results come back as plain Python, the same shapes ``Neo4jStore`` returns::

    node          {"labels": ["Entity", "Person", "__Entity__"] (sorted), "properties": {"id": ..., "name": ...}}
    relationship  {"type": "WORKS_FOR", "properties": {"label": "works for", ...}}
    path          [node, relationship, node, ...]
    map           dict (lists, maps nested inside are converted too)

FalkorDB specifics worth knowing (measured on 4.16): a read with ``write=False`` runs as
``GRAPH.RO_QUERY``, which the server refuses for any writing clause; the query timeout applies to
reads only (the server ignores it for writes); a batched ``MERGE`` must not repeat a key within one
statement (it loses updates or crashes the server) — ``kgpipe.ingest.write`` deduplicates for that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError, MissingDependency, StoreError, StoreUnavailable, UnsafeQuery
from . import QueryResult, cypher
from . import falkordb_server as server
from .clean import clean_text

if TYPE_CHECKING:
    from ..config import Settings

_RO_REFUSED = "is to be executed only on read-only queries"


class FalkorDBStore:
    """A graph (``settings.graph``) on a FalkorDB server."""

    name = "falkordb"

    def __init__(self, spec: str, settings: "Settings") -> None:
        try:
            from falkordb import FalkorDB
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise MissingDependency("falkordb", "the FalkorDB store") from None
        self.settings = settings
        self.embedded = spec == "falkordb"
        # No client-side retries: a retried write could run twice, and a crashed server should be
        # reported at once with its log rather than after seconds of back-off.
        options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0)}
        if self.embedded:
            info = server.ensure_server(settings.state_dir)
            self.location = info.socket
            options["unix_socket_path"] = info.socket
        else:
            host, port, password = _parse_url(spec)
            self.location = f"{host}:{port}"
            options.update(host=host, port=port, password=password)
        try:
            self.db = FalkorDB(**options)
        except Exception as exc:  # redis raises ConnectionError/OSError subclasses here
            raise StoreUnavailable(f"cannot reach FalkorDB at {self.location}: {exc}") from None
        self.graph = self.db.select_graph(settings.graph)

    def execute(self, cypher_text: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> QueryResult:
        """Run one statement; ``write=False`` runs it as GRAPH.RO_QUERY with the settings' timeout.

        What FalkorDB refuses (``kgpipe.stores.clean``) is cleaned from the exact text sent: the client
        sends parameters as a ``CYPHER k=... `` header in front of the query, so cleaning that one
        string is cleaning every parameter and the query, for the cost of one scan (walking the
        parameters in Python cost more than the client's own conversion). The client returns a whole
        result at once (it has no cursor), so there is no streaming here.
        """
        import redis

        try:
            text = clean_text(self.graph._build_params_header(dict(params)) + cypher_text if params else cypher_text)
            if write:
                result = self.graph.query(text)
            else:
                result = self.graph.ro_query(text, timeout=int(self.settings.query_timeout_ms))
        except redis.ResponseError as exc:
            message = str(exc)
            if _RO_REFUSED in message:
                raise UnsafeQuery(f"the server refused a writing query in read-only mode: {message}") from None
            if "empty key" in message:  # RO_QUERY on a graph key that was never created
                missing = f"FalkorDB graph {self.graph.name!r} does not exist yet (nothing written to it)"
                raise StoreError(missing) from None
            raise StoreError(f"FalkorDB: {message}") from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise self._unavailable(exc) from None
        except ValueError as exc:  # the client refuses a map key or parameter name with a backtick
            raise StoreError(f"FalkorDB client: {exc}") from None
        columns = [str(column[1]) for column in result.header]
        rows = [[to_python(value) for value in row] for row in result.result_set]
        return QueryResult(columns, rows)

    def ensure_schema(self) -> None:
        """Range indexes on the ids kgpipe merges on; "already indexed" is success."""
        for statement in cypher.schema_statements(self.name):
            try:
                self.execute(statement, write=True)
            except StoreError as exc:
                if "already indexed" not in str(exc):
                    raise

    def close(self) -> None:
        """Drop the connection; the embedded server keeps running for the next process."""
        self.db.connection.close()

    def __repr__(self) -> str:
        return f"FalkorDBStore({self.location!r}, graph={self.graph.name!r})"

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        detail = f"lost FalkorDB at {self.location}: {exc}"
        if self.embedded and server.find_server(self.settings.state_dir) is None:
            # The server died (FalkorDB crashes on some queries); its log names the query. The next
            # store created for this state folder starts a fresh server from the persisted data.
            detail += "\n" + server.log_tail(self.settings.state_dir)
        return StoreUnavailable(detail)


def _parse_url(spec: str) -> tuple[str, int, str | None]:
    parts = urlsplit(spec)
    if parts.scheme != "falkordb" or not parts.hostname:
        raise ConfigError(f"bad FalkorDB address {spec!r}; expected falkordb://host:port")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ConfigError(f"bad port in {spec!r}") from None
    return parts.hostname, port, unquote(parts.password) if parts.password else None


def to_python(value: Any) -> Any:
    """Client objects (Node, Edge, Path, OrderedDict) to plain dicts and lists, recursively."""
    from falkordb import Edge, Node, Path

    if isinstance(value, Node):
        return {"labels": sorted(value.labels or []), "properties": to_python(value.properties)}
    if isinstance(value, Edge):
        return {"type": value.relation, "properties": to_python(value.properties)}
    if isinstance(value, Path):
        items: list[Any] = []
        for i, node in enumerate(value.nodes()):
            if i:
                items.append(to_python(value.get_edge(i - 1)))
            items.append(to_python(node))
        return items
    if isinstance(value, Mapping):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    return value
