"""Write the files of ``tests/data/messy/``: the awkward inputs the loader must survive.

The files are committed; this script documents how their bytes were made and rebuilds them
identically (seeded randomness, hand-written PDF): ``python tests/data/make_messy.py``.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "messy"


def _binary(seed: int, size: int = 512) -> bytes:
    """Random bytes with NULs sprinkled in, like a small executable or image."""
    rng = random.Random(seed)
    data = bytearray(rng.randrange(256) for _ in range(size))
    for i in range(0, size, 7):
        data[i] = 0
    return bytes(data)


def _pdf(lines: list[str], title: str) -> bytes:
    """A one-page PDF 1.4 with Helvetica text (extractable) and an Info title, xref offsets computed."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + title.encode("latin-1") + b") /Producer (kgpipe tests) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


HTML = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Warsaw - City Guide</title>
<style>body { color: #333; } .ad { display: block; }</style>
<script>var tracker = "SCRIPT_TEXT"; function f() { return "<p>not text</p>"; }</script>
</head>
<body>
<header><div class="logo">HEADER_TEXT City Guides</div></header>
<nav><ul><li><a href="/">NAV_TEXT Home</a></li><li><a href="/paris">Paris</a></li></ul></nav>
<main>
<h1>Warsaw</h1>
<p>Warsaw is the capital of Poland.
It lies on the Vistula river.</p>
<p>Marie Curie was born in Warsaw in 1867.<br>She later moved to Paris.</p>
<ul><li>Population: about 1.8 million</li><li>Area: 517 km&sup2;</li></ul>
<noscript>NOSCRIPT_TEXT enable JavaScript</noscript>
</main>
<aside>ASIDE_TEXT Sponsored: cheap flights</aside>
<form><label>FORM_TEXT Search</label><input name="q"><button>Go</button></form>
<footer>FOOTER_TEXT &copy; 2024 City Guides</footer>
<script>console.log("SCRIPT_TEXT again");</script>
</body>
</html>
"""


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "random.bin").write_bytes(_binary(1))
    (HERE / "binary.txt").write_bytes(_binary(2))  # binary content behind a text extension
    (HERE / "empty.txt").write_bytes(b"")
    (HERE / "blank.md").write_bytes(b"  \n\t\n   \r\n\n")
    (HERE / "latin1.txt").write_bytes(
        "Café in München: die Straße ist schön. Zoë, Über and Ångström were naïve in Besançon.\n".encode("latin-1")
    )
    (HERE / "page.html").write_text(HTML, encoding="utf-8")
    (HERE / "curie.pdf").write_bytes(
        _pdf(["Marie Curie was born in Warsaw.", "She won the Nobel Prize in Physics in 1903."], "Curie facts")
    )
    (HERE / "broken.pdf").write_bytes(b"%PDF-1.7\n" + _binary(3, 300) + b"\n%%EOF\n")
    (HERE / "notes.rst").write_text("Notes\n=====\n\nPierre Curie was born in Paris.\n", encoding="utf-8")


if __name__ == "__main__":
    main()
