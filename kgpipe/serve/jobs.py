"""Uploaded documents built in the background, one job at a time, with progress to poll or stream.

A job saves its files under ``<state_dir>/uploads/<job id>/`` and builds them one file after another
(``kgpipe.ingest.pipeline.build``, incremental like ``kgpipe build``), so its progress is the files
done out of the files given, with each file's build summary. Jobs run on one worker thread: two
builds never write the graph at once.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import KgpipeError
from ..ingest.pipeline import build
from ..stores import cypher

if TYPE_CHECKING:
    from ..config import Settings
    from ..llms import LLM
    from ..stores import Store


@dataclass
class Job:
    """One upload's build: ``queued`` → ``running`` → ``done`` or ``failed``."""

    id: str
    files: list[str]
    status: str = "queued"
    done: int = 0
    documents: list[dict[str, Any]] = field(default_factory=list)  # per file: path, doc id, build summary
    error: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "files": [Path(f).name for f in self.files], "done": self.done,
                "total": len(self.files), "documents": self.documents, "error": self.error,
                "created": self.created, "finished": self.finished}  # fmt: skip


class Jobs:
    """The server's build jobs; ``on_change`` runs after each file is written (to refresh caches)."""

    def __init__(self, settings: "Settings", store: "Store", llm: "LLM | str | None" = None,
                 on_change: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.settings, self.store, self.llm, self.on_change = settings, store, llm, on_change
        self.root = Path(settings.state_dir) / "uploads"
        self.jobs: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgpipe-build")
        self._lock = threading.Lock()

    def folder(self) -> Path:
        """A new job's folder under ``<state_dir>/uploads``."""
        path = self.root / uuid.uuid4().hex[:16]
        path.mkdir(parents=True)
        return path

    def submit(self, folder: Path, files: list[Path]) -> Job:
        job = Job(folder.name, [str(f) for f in files])
        with self._lock:
            self.jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: Job) -> None:
        job.status = "running"
        try:
            for path in job.files:
                result = build(path, self.settings, llm=self.llm, store=self.store)
                docs = self.store.execute(*cypher.find_document(os.path.abspath(path))).records()
                if not docs:  # skipped (unreadable, empty, not text): nothing refers to the upload, so it goes
                    self.remove_file(path)
                job.documents.append({"file": Path(path).name, "doc_id": docs[0]["id"] if docs else None,
                                      "skipped": [s.reason for s in result.skipped], "summary": result.summary()})  # fmt: skip
                job.done += 1
                self.on_change()
            job.status = "done"
        except KgpipeError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a bug must still end the job visibly, not leave it "running"
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()
            self.on_change()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def remove_file(self, path: str) -> bool:
        """Delete an uploaded file (and its job folder once empty); False when ``path`` is not an upload."""
        target = Path(path).resolve()
        if not target.is_relative_to(self.root.resolve()) or not target.is_file():
            return False
        target.unlink()
        if not any(target.parent.iterdir()):
            shutil.rmtree(target.parent, ignore_errors=True)
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
