"""The HTTP API and web page of ``kgpipe serve``: an ASGI app (FastAPI) over the library's functions.

>>> from kgpipe.serve.app import create_app          # doctest: +SKIP
>>> app = create_app(settings, write_token="s3cret")  # doctest: +SKIP   (uvicorn.run(app) serves it)

Reads are open; writes (upload, delete, a Cypher write) need the token the server was started with,
sent as ``Authorization: Bearer <token>`` (or ``X-Kgpipe-Token``); without a token configured every
write is refused. Every error is JSON: ``{"error": {"type": ..., "message": ...}}`` with a status that
says whose fault it is (400 bad input, 401/403 token, 404 unknown id, 413 too large, 415 file type,
422 question names no entity, 503 busy or store down). No CORS headers are sent unless origins are
named (``cors_origins``, ``--cors-origin``), so a page of another origin cannot read the API's answers. OpenAPI at ``/docs`` (and ``/openapi.json``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Sequence

from ..errors import (
    KgpipeError,
    LLMError,
    MissingDependency,
    NoEntityLinked,
    NotFound,
    StoreError,
    StoreUnavailable,
    UnsafeQuery,
)

try:
    from fastapi import FastAPI, File, Header, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - exercised by test_serve's missing-extra test in a subprocess
    raise MissingDependency(exc.name or "fastapi", "kgpipe serve", install="'kgpipe[serve]'") from None

from .. import api
from ..ingest.load import _UNSUPPORTED, MIME_TYPES
from ..stores import open_store
from . import views
from .jobs import Jobs
from .limits import Limits
from .search import CachedIndex

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..stores import Store

STATIC = Path(__file__).parent / "static"
TOKEN_ENV = "KGPIPE_WRITE_TOKEN"


@dataclass(frozen=True)
class ServeLimits:
    """What one server accepts: body size, requests at once, rows per query, files per upload."""

    max_body: int = 20 * 1024 * 1024  # bytes of one request (an upload's files together)
    max_concurrent: int = 32  # requests handled at once; more wait up to queue_s, then get 503
    queue_s: float = 10.0
    max_rows: int = 1000  # most rows /api/query returns (a request may ask for fewer)
    max_files: int = 20


class QueryIn(BaseModel):
    cypher: str = Field(..., description="a Cypher query; read-only unless write is true (which needs the token)")
    params: dict[str, Any] = Field(default_factory=dict, description="query parameters ($name in the query)")
    limit: int | None = Field(None, ge=1, description="most rows returned (at most the server's cap)")
    write: bool = False


class AskIn(BaseModel):
    question: str = Field(..., min_length=1, max_length=2000)
    mode: Literal["paths", "cypher", "context"] = Field(
        "paths", description="paths: verified reasoning paths (kgpipe ask); cypher: Text2Cypher; context: KG-RAG")
    paths: int | None = Field(None, ge=1, le=10)
    hops: int | None = Field(None, ge=1, le=3)


class _Refused(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


def _status(exc: KgpipeError) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UnsafeQuery):
        return 403
    if isinstance(exc, NoEntityLinked):
        return 422
    if isinstance(exc, StoreUnavailable):
        return 503
    if isinstance(exc, StoreError):
        return 504 if "timed out" in str(exc).lower() else 400
    if isinstance(exc, LLMError):
        return 502
    return 400  # ConfigError, DataError, the rest: the request asked for something that cannot be done


# The hot read endpoints return a JSONResponse themselves: with a ``dict`` return annotation FastAPI would
# validate and re-encode every row through pydantic first (the JSON is the same).
def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def create_app(
    settings: "Settings",
    *,
    write_token: str | None = None,
    store: "Store | None" = None,
    llm: "LLM | str | None" = None,
    limits: ServeLimits = ServeLimits(),
    cors_origins: Sequence[str] = (),
) -> Any:
    """The app over ``settings``' store. ``llm``: the model builds and ``ask`` use (default ``settings.llm``).

    ``cors_origins``: web origins whose pages may call the API from a browser (none by default)."""
    the_store = store if store is not None else open_store(settings)
    index = CachedIndex(the_store)
    linker_lock, ask_lock = threading.Lock(), threading.Lock()  # one model: asks run one at a time
    state: dict[str, Any] = {"linker": None}

    def changed() -> None:
        index.invalidate()
        with linker_lock:
            state["linker"] = None

    jobs = Jobs(settings, the_store, llm, on_change=changed)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(lifespan=lifespan, title="kgpipe", version="0.1.0", description=(
        "A knowledge graph built by kgpipe: search it, read entities with their facts and provenance, run "
        "read-only Cypher, ask questions answered by verified paths, upload documents. Writes need the token."))  # fmt: skip
    app.state.kgpipe = {"store": the_store, "jobs": jobs, "index": index, "settings": settings}

    # -- errors: every one as {"error": {"type", "message"}} --------------------------------------------

    @app.exception_handler(KgpipeError)
    async def _kgpipe_error(request: Request, exc: KgpipeError) -> JSONResponse:
        return _error(_status(exc), type(exc).__name__, str(exc))

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> JSONResponse:
        return _error(exc.status, exc.kind, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(422, "InvalidRequest", f"the request does not match the API: {problems} (see /docs)")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = f"no such endpoint: {request.method} {request.url.path} (see /docs)" if exc.status_code == 404 else str(exc.detail)
        return _error(exc.status_code, "HTTPError", message)

    def require_token(authorization: str | None, x_kgpipe_token: str | None) -> None:
        if not write_token:
            raise _Refused(403, "WritesDisabled", "this server is read-only: start it with --write-token TOKEN (or "
                                                  f"{TOKEN_ENV}) and send the token to upload, delete or write")  # fmt: skip
        sent = x_kgpipe_token or (authorization[7:] if authorization and authorization.lower().startswith("bearer ") else None)
        if not sent:
            raise _Refused(401, "TokenRequired", "this request changes the graph: send the write token as "
                                                 "'Authorization: Bearer TOKEN' or 'X-Kgpipe-Token: TOKEN'")  # fmt: skip
        if not hmac.compare_digest(sent.encode(), write_token.encode()):
            raise _Refused(403, "BadToken", "the write token sent is not this server's")

    # -- reads ----------------------------------------------------------------------------------------------

    @app.get("/api/stats", summary="Counts of documents, chunks, entities, facts, predicted links")
    def get_stats() -> JSONResponse:
        return JSONResponse({**api.stats(settings=settings, store=the_store), "jobs_running": sum(
            j.status in ("queued", "running") for j in list(jobs.jobs.values()))})  # fmt: skip

    @app.get("/api/search", summary="Entities by name or alias (fuzzy), optionally of one type")
    def search(q: str = Query(..., min_length=1, max_length=200), type: str | None = None,
               limit: int = Query(10, ge=1, le=100)) -> JSONResponse:  # fmt: skip
        return JSONResponse({"query": q, "type": type, "results": index.get().search(q, type=type, limit=limit)})

    @app.get("/api/entities/{entity_id}", summary="An entity, its facts both ways (confidence, conflict, provenance) "
             "and its predicted links apart")  # fmt: skip
    def get_entity(entity_id: str) -> JSONResponse:
        return JSONResponse(views.entity(the_store, entity_id))

    @app.get("/api/entities/{entity_id}/neighbourhood", summary="Nodes and edges around an entity (what the page draws)")
    def get_neighbourhood(entity_id: str, limit: int = Query(60, ge=1, le=500)) -> JSONResponse:
        return JSONResponse(views.neighbourhood(the_store, entity_id, limit=limit))

    @app.get("/api/facts/{fact_id}/provenance", summary="A fact's chunks with the supporting sentence located, "
             "and its documents")  # fmt: skip
    def get_provenance(fact_id: str) -> JSONResponse:
        return JSONResponse(views.provenance(the_store, fact_id))

    @app.post("/api/query", summary="Cypher: read-only (two safety layers, a row cap, the query timeout) unless "
              "write is true and the token is sent")  # fmt: skip
    def post_query(body: QueryIn, authorization: str | None = Header(None),
                   x_kgpipe_token: str | None = Header(None)) -> JSONResponse:  # fmt: skip
        if body.write:
            require_token(authorization, x_kgpipe_token)
            result = api.query(body.cypher, body.params, write=True, settings=settings, store=the_store)
            changed()
        else:
            cap = min(body.limit or limits.max_rows, limits.max_rows)
            result = api.query(body.cypher, body.params, limit=cap, settings=settings, store=the_store)
        return JSONResponse({"columns": result.columns, "rows": result.rows, "truncated": result.truncated})

    @app.post("/api/ask", summary="Answer a question: verified reasoning paths with provenance (mode paths), "
              "Text2Cypher (cypher) or KG-RAG (context)")  # fmt: skip
    def post_ask(body: AskIn) -> dict[str, Any]:
        with ask_lock:
            if body.mode == "cypher":
                from ..qa.text2cypher import ask_cypher

                return ask_cypher(body.question, settings, store=the_store, llm=llm).to_dict()
            if body.mode == "context":
                from ..qa.context import ask_context

                return ask_context(body.question, settings, store=the_store, llm=llm).to_dict()
            from ..qa.answer import ask
            from ..qa.link import EntityLinker

            with linker_lock:  # reloaded like the search index: after a change here, or when 30 s old
                if state["linker"] is None or time.monotonic() - state["linked_at"] > index.max_age:
                    state["linker"], state["linked_at"] = EntityLinker.from_store(the_store), time.monotonic()
                linker = state["linker"]
            return ask(body.question, settings, store=the_store, llm=llm, paths=body.paths, hops=body.hops,
                       linker=linker).to_dict()  # fmt: skip

    # -- documents ------------------------------------------------------------------------------------------

    @app.get("/api/documents", summary="The graph's documents")
    def get_documents() -> dict[str, Any]:
        from ..ingest.write import list_documents

        return {"documents": list_documents(the_store)}

    @app.post("/api/documents", status_code=202, summary="Upload files (text, Markdown, HTML, PDF); they are built "
              "in the background: poll /api/jobs/{id} or stream /api/jobs/{id}/events")  # fmt: skip
    async def post_documents(files: list[UploadFile] = File(...), authorization: str | None = Header(None),
                             x_kgpipe_token: str | None = Header(None)) -> dict[str, Any]:  # fmt: skip
        require_token(authorization, x_kgpipe_token)
        if len(files) > limits.max_files:
            raise _Refused(413, "TooManyFiles", f"{len(files)} files sent; at most {limits.max_files} per upload")
        names = []
        for f in files:
            name = Path(f.filename or "").name
            suffix = Path(name).suffix.lower()
            if not name or name.startswith("."):
                raise _Refused(400, "BadFileName", f"cannot store a file named {f.filename!r}")
            if suffix in _UNSUPPORTED or suffix not in MIME_TYPES:
                raise _Refused(415, "UnsupportedFileType", f"{name}: unsupported file type {suffix or '(none)'}; "
                                                           f"send {', '.join(sorted(MIME_TYPES))}")  # fmt: skip
            names.append(name)
        if len(set(names)) != len(names):
            raise _Refused(400, "DuplicateFileName", "two files of one upload have the same name")
        folder = jobs.folder()
        saved = []
        for f, name in zip(files, names):
            path = folder / name
            path.write_bytes(await f.read())
            saved.append(path)
        return jobs.submit(folder, saved).to_dict()

    @app.get("/api/jobs/{job_id}", summary="An upload's build: status and files done")
    def get_job(job_id: str) -> dict[str, Any]:
        job = jobs.get(job_id)
        if job is None:
            raise NotFound(f"no upload job {job_id!r} on this server (jobs are kept until it stops)")
        return job.to_dict()

    @app.get("/api/jobs/{job_id}/events", summary="An upload's progress as server-sent events, until it ends")
    async def job_events(job_id: str) -> StreamingResponse:
        job = jobs.get(job_id)
        if job is None:
            raise NotFound(f"no upload job {job_id!r} on this server")

        async def events() -> AsyncIterator[str]:
            last = None
            while True:
                now = json.dumps(job.to_dict())
                if now != last:
                    yield f"data: {now}\n\n"
                    last = now
                if job.status in ("done", "failed"):
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.delete("/api/documents/{doc_id}", summary="Remove a document, the facts only it supported, entities left "
                "unmentioned (and its uploaded file)")  # fmt: skip
    def delete_document(doc_id: str, authorization: str | None = Header(None),
                        x_kgpipe_token: str | None = Header(None)) -> dict[str, Any]:  # fmt: skip
        require_token(authorization, x_kgpipe_token)
        from ..ingest.write import list_documents

        doc = next((d for d in list_documents(the_store) if d["id"] == doc_id), None)
        if doc is None:
            raise NotFound(f"no document with id {doc_id!r} (GET /api/documents lists them)")
        removed = api.delete(doc_id, settings=settings, store=the_store)
        files = [p for p in (doc["paths"] or [doc["path"]]) if p and jobs.remove_file(p)]
        changed()
        return {"deleted": removed, "files_removed": len(files)}

    # -- the page -------------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-Kgpipe-Token", "Content-Type"])  # fmt: skip
    return Limits(app, max_body=limits.max_body, max_concurrent=limits.max_concurrent, queue_s=limits.queue_s)


def serve(settings: "Settings", *, host: str = "127.0.0.1", port: int = 8000, write_token: str | None = None,
          limits: ServeLimits = ServeLimits(), cors_origins: Sequence[str] = ()) -> None:  # fmt: skip
    """Run the app with uvicorn until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise MissingDependency("uvicorn", "kgpipe serve", install="'kgpipe[serve]'") from None
    app = create_app(settings, write_token=write_token, limits=limits, cors_origins=cors_origins)
    uvicorn.run(app, host=host, port=port, log_level="warning")

