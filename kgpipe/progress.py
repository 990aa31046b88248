"""Progress bars for long work (tqdm on stderr), silenced by ``Settings.progress = False``."""

from __future__ import annotations

from typing import Any


def bar(*, total: int, desc: str, unit: str = "it", enabled: bool = True, leave: bool = True) -> Any:
    """A tqdm bar usable as a context manager with ``update(n)``; a no-op bar when disabled."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, dynamic_ncols=True)
