"""Killing a build process mid-build, once some of its documents are written (the resume tests' shared step)."""

from __future__ import annotations

import signal
import subprocess
import time

from kgpipe.stores import Store

COMPLETE = "MATCH (d:Document) WHERE d.complete = true RETURN count(d)"


def kill_when_complete(proc: subprocess.Popen, store: Store, documents: int, timeout: float) -> int:
    """SIGKILL ``proc`` as soon as ``store`` holds ``documents`` complete documents (or ``timeout`` seconds pass);
    the count seen before the kill. Fails when the build ended on its own first: there was nothing to interrupt."""
    deadline, complete = time.time() + timeout, 0
    while time.time() < deadline and proc.poll() is None:
        complete = store.execute(COMPLETE).rows[0][0]
        if complete >= documents:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the build ended before it could be killed: {proc.stderr.read() if proc.stderr else ''}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return complete
