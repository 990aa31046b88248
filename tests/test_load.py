"""The loader on real awkward files: what is loaded, what is skipped and why, and what the text looks like."""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from pathlib import Path

import pytest

from kgpipe.errors import LoadError
from kgpipe.ingest.load import decode_bytes, load, normalise_text
from kgpipe.records import Document, SkippedFile

HERE = Path(__file__).resolve().parent
MESSY = HERE / "data" / "messy"
SAMPLE = HERE.parent / "data" / "sample"


def _load(paths: object) -> tuple[list[Document], list[SkippedFile]]:
    skipped: list[SkippedFile] = []
    docs = list(load(paths, on_skip=skipped.append))  # type: ignore[arg-type]
    return docs, skipped


@pytest.fixture(scope="module")
def messy() -> tuple[dict[str, Document], dict[str, str]]:
    docs, skipped = _load(MESSY)
    return {Path(d.path).name: d for d in docs}, {Path(s.path).name: s.reason for s in skipped}


def test_messy_folder_outcomes(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    loaded, skipped = messy
    assert set(loaded) == {"curie.pdf", "latin1.txt", "notes.rst", "page.html"}
    assert set(skipped) == {"binary.txt", "random.bin", "empty.txt", "blank.md", "broken.pdf"}
    assert "binary" in skipped["random.bin"]
    assert "binary" in skipped["binary.txt"]  # a text extension does not make it text
    assert skipped["empty.txt"] == "empty file"
    assert skipped["blank.md"] == "whitespace only"
    assert "PDF" in skipped["broken.pdf"]


def test_latin1_decoded(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    doc = messy[0]["latin1.txt"]
    assert doc.text == "Café in München: die Straße ist schön. Zoë, Über and Ångström were naïve in Besançon."
    assert doc.title == "latin1" and doc.mime == "text/plain"


def test_html_boilerplate_removed_title_kept(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    doc = messy[0]["page.html"]
    assert doc.title == "Warsaw - City Guide"
    assert doc.mime == "text/html"
    for marker in ("SCRIPT_TEXT", "HEADER_TEXT", "NAV_TEXT", "ASIDE_TEXT", "FORM_TEXT", "FOOTER_TEXT",
                   "NOSCRIPT_TEXT", "not text", "color", "<", ">"):
        assert marker not in doc.text, marker
    assert "Warsaw is the capital of Poland. It lies on the Vistula river." in doc.text  # whitespace collapsed
    assert "Warsaw in 1867.\nShe later moved to Paris." in doc.text  # <br> is a line break
    assert "Area: 517 km²" in doc.text  # entities decoded
    assert "\n\n\n" not in doc.text


def test_pdf_text_and_title(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    doc = messy[0]["curie.pdf"]
    assert doc.mime == "application/pdf"
    assert doc.title == "Curie facts"
    assert "Marie Curie was born in Warsaw." in doc.text
    assert "She won the Nobel Prize in Physics in 1903." in doc.text


def test_unknown_extension_sniffed_as_text(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    doc = messy[0]["notes.rst"]
    assert "Pierre Curie was born in Paris." in doc.text


def test_id_is_hash_of_text_and_paths_absolute(messy: tuple[dict[str, Document], dict[str, str]]) -> None:
    for doc in messy[0].values():
        assert doc.id == doc.sha256 == hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        assert os.path.isabs(doc.path)
        assert doc.text == doc.text.strip() and doc.text == unicodedata.normalize("NFC", doc.text)


def test_same_content_same_id(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Paris is the capital of France.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes("Paris is the capital of France.\r\n\r\n".encode("utf-8"))  # CRLF
    (tmp_path / "c.txt").write_text("Paris is the capital of France.", encoding="utf-16")  # BOM
    (tmp_path / "d.txt").write_text("Paris is the capital of France!", encoding="utf-8")
    ids = {name: _load(tmp_path / name)[0][0].id for name in ("a.txt", "b.txt", "c.txt", "d.txt")}
    assert ids["a.txt"] == ids["b.txt"] == ids["c.txt"] != ids["d.txt"]
    # Loaded together, the copies are reported as duplicates of the first.
    docs, skipped = _load(tmp_path)
    assert [Path(d.path).name for d in docs] == ["a.txt", "d.txt"]
    assert [(Path(s.path).name, s.reason) for s in skipped] == [
        ("b.txt", f"duplicate content of {tmp_path / 'a.txt'}"),
        ("c.txt", f"duplicate content of {tmp_path / 'a.txt'}"),
    ]


def test_unicode_normalised_to_nfc(tmp_path: Path) -> None:
    (tmp_path / "nfd.txt").write_text(unicodedata.normalize("NFD", "Skłodowska née à Varsovie"), encoding="utf-8")
    (tmp_path / "nfc.txt").write_text("Skłodowska née à Varsovie", encoding="utf-8")
    assert _load(tmp_path / "nfd.txt")[0][0].id == _load(tmp_path / "nfc.txt")[0][0].id


def test_folder_recursion_sorted_hidden_skipped(tmp_path: Path) -> None:
    for rel in ("b/z.txt", "b/a.md", "a.txt", "c/d/e.txt", "B.txt", ".hidden.txt", ".git/config.txt", "b/.x/y.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Text of {rel}.", encoding="utf-8")
    first = [d.path for d in _load(tmp_path)[0]]
    assert first == [d.path for d in _load(tmp_path)[0]]
    assert [os.path.relpath(p, tmp_path) for p in first] == ["B.txt", "a.txt", "b/a.md", "b/z.txt", "c/d/e.txt"]
    # A hidden file named explicitly is loaded; a file given twice is loaded once.
    docs, skipped = _load([tmp_path / ".hidden.txt", tmp_path / "a.txt", tmp_path])
    assert [os.path.relpath(d.path, tmp_path) for d in docs][:2] == [".hidden.txt", "a.txt"]
    assert len(docs) == 6 and not skipped


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load([tmp_path / "nope"])


def test_broken_link_and_unsupported_format(tmp_path: Path) -> None:
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    docs, skipped = _load(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert not docs
    assert "not a regular file" in reasons["dangling.txt"]
    assert "unsupported format .docx" in reasons["report.docx"]


def test_skips_logged_without_callback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="kgpipe.ingest.load"):
        assert list(load(tmp_path)) == []
    assert "empty file" in caplog.text


def test_markdown_markup_removed(tmp_path: Path) -> None:
    source = (
        "---\ntitle: \"Front Title\"\n---\n# Heading *One*\n\n<!-- hidden note -->\n"
        "![logo](img/logo.png) See [the paper](https://example.org/a_(b)) and `code` or **bold** text_with_underscores.\n\n"
        "```python\nprint('dropped')\n```\n\n- first item\n- second item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[ref]: https://x.y\n"
    )
    (tmp_path / "doc.md").write_text(source, encoding="utf-8")
    doc = _load(tmp_path / "doc.md")[0][0]
    assert doc.title == "Front Title" and doc.mime == "text/markdown"
    assert "See the paper and code or bold text_with_underscores." in doc.text
    for gone in ("https://", "logo", "print", "hidden note", "```", "**", "#", "[ref]", "|---"):
        assert gone not in doc.text, gone
    assert "Heading One\n\n" in doc.text
    assert "first item\n\nsecond item" in doc.text
    assert "a; b\n1; 2" in doc.text


def test_markdown_parsed_not_pattern_matched(tmp_path: Path) -> None:
    """What a line-by-line reader gets wrong and a CommonMark parser gets right."""
    source = (
        "Intro with \\*escaped stars\\* and AT&amp;T, a <https://auto.link> and <span>inline</span> HTML.\n\n"
        "> quoted\n> lines\n\n1. one\n2. two\n   continued\n\n- [x] done task\n  - nested item\n\n"
        "<div>\nblock <b>html</b> text\n</div>\n\n    indented_code()\n\n~~~\ntilde_fence()\n~~~\n\n"
        "Line  \nbreak and `a | b` inline code.\n"
    )
    (tmp_path / "p.md").write_text(source, encoding="utf-8")
    text = _load(tmp_path / "p.md")[0][0].text
    assert text.startswith("Intro with *escaped stars* and AT&T, a  and inline HTML.\n\n")
    assert "quoted\nlines\n\none\n\ntwo\ncontinued\n\ndone task\n\nnested item\n\nblock html text\n\n" in text
    assert text.endswith("Line\nbreak and a | b inline code.")
    for gone in ("auto.link", "<", "[x]", "indented_code", "tilde_fence", "~~~", ">"):
        assert gone not in text, gone


def test_markdown_title_from_first_heading(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text("Intro line.\n\nMy Title\n========\n\nBody.\n", encoding="utf-8")
    doc = _load(tmp_path / "x.md")[0][0]
    assert doc.title == "My Title"
    assert "=" not in doc.text


def test_decode_bytes() -> None:
    assert decode_bytes("\ufeffhé".encode("utf-8")) == "hé"  # BOM dropped
    assert decode_bytes("naïve".encode("utf-16-le")) == "naïve"  # no BOM, NULs in every other byte
    assert decode_bytes(b"\x00\x01\x02binary\x00\xff") is None
    assert decode_bytes("“Smart” quotes – and €".encode("cp1252")) == "“Smart” quotes – and €"


def test_decode_cyrillic_not_read_as_western() -> None:
    pytest.importorskip("charset_normalizer")
    text = "Мария Склодовская-Кюри родилась в Варшаве. Она получила Нобелевскую премию."
    assert decode_bytes(text.encode("cp1251")) == text


def test_normalise_text() -> None:
    raw = "a\r\nb\rc\u00a0d\u200be\ufb01\x07\n\n\n\nf  \n"
    assert normalise_text(raw) == "a\nb\nc defi\n\nf"


def test_sample_corpus_loads() -> None:
    docs, skipped = _load(SAMPLE)
    assert not skipped
    assert {Path(d.path).name for d in docs} == {
        "marie_curie.txt", "pierre_curie.md", "capitals.html", "ibm.md", "apple_inc.html", "apples.txt"
    }
    titles = {Path(d.path).name: d.title for d in docs}
    assert titles["capitals.html"] == "European Capitals" and titles["pierre_curie.md"] == "Pierre Curie"
    capitals = next(d for d in docs if d.path.endswith("capitals.html"))
    assert "Home" not in capitals.text and "Copyright" not in capitals.text


def test_html_article_header_kept_svg_title_ignored(tmp_path: Path) -> None:
    page = (
        "<html><body><svg><title>icon</title></svg><header>SITE BANNER</header>"
        "<div role='navigation'>Menu</div><article><header><h1>Real Title</h1></header>"
        "<p>Body text.</p><p hidden>Hidden text.</p></article></body></html>"
    )
    (tmp_path / "p.htm").write_text(page, encoding="utf-8")
    doc = _load(tmp_path / "p.htm")[0][0]
    assert doc.title == "Real Title"  # no <title>: the first <h1>
    assert doc.text == "Real Title\n\nBody text."


def test_html_declared_charset(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1251"><title>Т</title></head><body><p>Варшава</p></body></html>'
    (tmp_path / "ru.html").write_bytes(page.encode("cp1251"))
    assert _load(tmp_path / "ru.html")[0][0].text == "Варшава"
