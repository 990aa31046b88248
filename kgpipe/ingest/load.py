"""Load files and folders into ``Document`` records: txt, md, html, pdf, and anything else that sniffs as text.

A stage like the others: a plain function that streams records. Files that cannot be
used (binary, empty, unreadable, broken PDF, duplicate content) are not errors: each is
reported as a ``SkippedFile`` through ``on_skip`` and the load goes on::

    skipped: list[SkippedFile] = []
    docs = list(load(["notes/", "paper.pdf"], on_skip=skipped.append))

Only a path that does not exist at all raises ``LoadError`` (a typo should fail loudly).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import unicodedata
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import LoadError
from ..records import Document, SkippedFile
from .markup import html_to_text, markdown_to_text

__all__ = ["load", "decode_bytes", "normalise_text", "MIME_TYPES"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

MIME_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "text/html",
    ".pdf": "application/pdf",
}

# Container formats that always sniff as binary; naming them gives a more useful skip reason.
_UNSUPPORTED = {".docx", ".doc", ".xlsx", ".xls", ".pptx", ".ppt", ".odt", ".ods", ".odp", ".epub", ".rtf"}

# Characters that survive NFC but only get in the way of extraction.
_REPLACE = str.maketrans(
    {
        "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ", "\u200a": " ", "\u3000": " ",
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
        "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
        "\u2028": "\n", "\u2029": "\n\n", "\x0c": "\n\n", "\x0b": "\n",
    }
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_TRAILING_WS = re.compile(r"[ \t]+\n")
_MANY_BLANKS = re.compile(r"\n{3,}")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def normalise_text(text: str) -> str:
    """NFC, ``\\n`` newlines, no invisible or control characters, at most one blank line in a row.

    The result is what ``Document.text`` holds, so chunk offsets and the content hash are taken on it.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).translate(_REPLACE)
    text = _CONTROL.sub("", text)
    text = _TRAILING_WS.sub("\n", text)
    return _MANY_BLANKS.sub("\n\n", text).strip()


def _looks_binary(text: str) -> bool:
    """True when more than 2% of the characters are control characters or decoding replacements."""
    if not text:
        return False
    bad = len(_CONTROL.findall(text)) + text.count("\ufffd")
    return bad / len(text) > 0.02


def _plausible_western(text: str) -> bool:
    """cp1252 decodes any byte string; accept it only when accented letters are sparse, as in real Western text.

    Cyrillic or Greek bytes read as cp1252 come out as words made entirely of accented letters.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    foreign = sum(1 for c in letters if ord(c) > 127)
    return foreign / len(letters) <= 0.3


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text without a BOM shows up as NULs in every other byte; read it instead of calling it binary."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, enc in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) > 0.6 * len(zeros) and other.count(0) < 0.05 * len(other):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                return None
    return None


def decode_bytes(data: bytes, *, declared: str | None = None) -> str | None:
    """Bytes to text, or ``None`` if the bytes are not text.

    Order: BOM; UTF-8; the ``declared`` charset (an HTML ``<meta charset>``); cp1252 when plausible;
    charset-normalizer's guess when that package is installed; latin-1 as the last resort.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return _utf16_without_bom(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        text = data.decode("cp1252")
        if _plausible_western(text):
            return text
    except UnicodeDecodeError:
        pass
    try:  # transitively installed (requests); optional on purpose
        from charset_normalizer import from_bytes
    except ImportError:
        from_bytes = None
    if from_bytes is not None:
        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    return data.decode("latin-1")


def _read_text(path: Path, mime: str) -> tuple[str, str]:
    """Title and text of a text-like file; raises ``LoadError`` with the skip reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from None
    if not data.strip():
        raise LoadError("empty file" if not data else "whitespace only")
    declared = None
    if mime == "text/html":
        m = _META_CHARSET.search(data[:4096])
        declared = m.group(1).decode("ascii") if m else None
    raw = decode_bytes(data, declared=declared)
    if raw is None or _looks_binary(raw):
        raise LoadError("binary content (not text)")
    if mime == "text/html":
        return html_to_text(raw)
    if mime == "text/markdown":
        return markdown_to_text(raw)
    return "", raw


def _dehyphenate(text: str) -> str:
    """Undo PDF line wrapping: re-join words split by a hyphen and lines that continue a sentence."""
    text = re.sub(r"(\w)-\n(?=[a-z])", r"\1", text)
    return re.sub(r"(?<=\S)[ \t]*\n(?=[a-z(])", " ", text)


def _read_pdf(path: Path) -> tuple[str, str]:
    """Title (metadata) and per-page text of a PDF, pages separated by a blank line."""
    try:
        from pypdf import PdfReader
    except ImportError:  # a declared dependency, but keep the failure readable
        raise LoadError("PDF support needs pypdf: pip install pypdf") from None
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (needs a password)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta = reader.metadata
        title = str(meta.title).strip() if meta is not None and meta.title else ""
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from None
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise LoadError(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    text = "\n\n".join(_dehyphenate(p) for p in pages if p)
    if not text.strip():
        raise LoadError("PDF has no extractable text (scanned images?)")
    return title, text


def _read(path: Path) -> Document:
    """One file to one ``Document``; raises ``LoadError`` carrying the reason to skip it."""
    suffix = path.suffix.lower()
    if suffix in _UNSUPPORTED:
        raise LoadError(f"unsupported format {suffix} (convert it to PDF, HTML or text)")
    mime = MIME_TYPES.get(suffix, "text/plain")
    title, raw = _read_pdf(path) if mime == "application/pdf" else _read_text(path, mime)
    text = normalise_text(raw)
    if not text:
        raise LoadError("no text after removing markup" if raw.strip() else "whitespace only")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    title = " ".join(normalise_text(title).split()) or path.stem
    return Document(id=digest, path=str(path), title=title, text=text, sha256=digest, mime=mime)


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order, depth first, hidden files and folders left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _report(skip: SkippedFile) -> None:
    log.warning("skipped %s: %s", skip.path, skip.reason)


def load(
    paths: PathLike | Iterable[PathLike],
    *,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> Iterator[Document]:
    """Stream one ``Document`` per usable file under ``paths`` (files or folders, folders recursively).

    Order is deterministic: the paths in the order given, each folder walked in sorted order.
    ``Document.path`` is the absolute path (``..`` removed, links kept). A file whose text equals an earlier one's is
    skipped as a duplicate (same content, same id). Every skipped file goes to ``on_skip``
    (default: a logged warning). Raises ``LoadError`` at once if a given path does not exist.
    """
    roots = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    missing = [str(p) for p in roots if not p.exists() and not p.is_symlink()]
    if missing:
        raise LoadError(f"no such file or directory: {', '.join(missing)}")
    return _load(roots, on_skip or _report)


def _load(roots: list[Path], on_skip: Callable[[SkippedFile], None]) -> Iterator[Document]:
    seen_paths: set[Path] = set()
    seen_ids: dict[str, str] = {}
    for root in roots:
        files = _walk(root) if root.is_dir() else iter([root])
        for file in files:
            real = file.resolve()
            if real in seen_paths:  # the same file reached through two of the given paths
                continue
            seen_paths.add(real)
            path = Path(os.path.abspath(file))  # absolute, but links kept as the user named them
            if not path.is_file():
                on_skip(SkippedFile(str(path), "not a regular file (broken link, device or socket)"))
                continue
            try:
                doc = _read(path)
            except LoadError as exc:
                on_skip(SkippedFile(str(path), str(exc)))
                continue
            if doc.id in seen_ids:
                on_skip(SkippedFile(str(path), f"duplicate content of {seen_ids[doc.id]}"))
                continue
            seen_ids[doc.id] = doc.path
            yield doc
