"""What kgpipe shows while it works: its own progress bars (tqdm on stderr, off with ``Settings.progress =
False``), and nothing of the libraries under it — their warnings and load bars are silenced at the source,
visible again when kgpipe's logging is verbose (``kgpipe -v``)."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any, Iterator

#: Libraries whose warnings (deprecations, FutureWarnings from inside their own code) are not the user's business.
THIRD_PARTY = ("transformers", "sentence_transformers", "huggingface_hub", "torch", "pykeen", "accelerate", "gguf")


def bar(*, total: int | None, desc: str, unit: str = "it", enabled: bool = True, leave: bool = True) -> Any:
    """A tqdm bar usable as a context manager with ``update(n)``; a no-op bar when disabled; ``total`` None when the
    amount of work is not known ahead (a count and a rate)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, dynamic_ncols=True)


def verbose() -> bool:
    """Whether kgpipe's logging shows INFO (``kgpipe -v``): then third-party output is left alone."""
    return logging.getLogger("kgpipe").isEnabledFor(logging.INFO)


@contextlib.contextmanager
def quiet_third_party() -> Iterator[None]:
    """While a model loads or runs: no warnings raised inside third-party libraries (transformers'
    ``past_key_values`` FutureWarning on every forward pass), no transformers log chatter below errors,
    no per-load progress bars ("Loading weights"). Warnings kgpipe raises itself still show; nothing is
    hidden when verbose, and the libraries' own settings are restored after."""
    if verbose():
        yield
        return
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(%s)(\.|$)" % "|".join(THIRD_PARTY))
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars_were_on:
            hf_logging.enable_progress_bar()
