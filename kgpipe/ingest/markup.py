"""Markup to plain text for the loader: HTML (boilerplate dropped) and Markdown (parsed by markdown-it-py, syntax dropped).

Both return ``(title, text)``. Headings, paragraphs and list items end up separated by blank
lines, which the chunker treats as hard boundaries, so a heading never runs into the next sentence.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["html_to_text", "markdown_to_text"]

# Page furniture and non-content elements: everything inside them is dropped.
_SKIP_TAGS = {
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "svg", "math", "iframe", "object", "canvas", "button", "select", "textarea", "menu", "dialog", "head",
}
# ARIA landmarks that mark the same furniture on generic <div>s.
_SKIP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
    "dl", "dt", "dd", "blockquote", "pre", "table", "figure", "figcaption", "hr", "address",
    "details", "summary", "caption", "body", "center",
}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
              "source", "track", "wbr"}


class _TextExtractor(HTMLParser):
    """Collects visible body text and the page title, one pass, tolerant of unclosed tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._skip_tag = ""  # the element whose content is being dropped
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False
        self._seen_h1 = False
        self._pre = 0
        self._article = 0  # depth of <article>/<main> elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.title and (not self._skip_depth or self._skip_tag == "head"):
            self._in_title = True  # the page's first <title>, not an <svg>'s
        if self._skip_depth:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        attr = dict(attrs)
        hidden = "hidden" in attr or attr.get("aria-hidden") == "true"
        # A <header> inside an article holds the article's own heading, not the site banner.
        furniture = tag in _SKIP_TAGS and not (tag == "header" and self._article)
        if tag not in _VOID_TAGS and (furniture or hidden or attr.get("role") in _SKIP_ROLES):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in ("article", "main"):
            self._article += 1
        if tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "tr":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        if tag == "pre":
            self._pre += 1
        if tag == "h1" and not self._seen_h1:
            self._in_h1 = self._seen_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skip_depth:
            if tag == self._skip_tag:
                self._skip_depth -= 1
            elif tag in ("body", "html"):  # an unclosed skip element must not swallow the page
                self._skip_depth = 0
            return
        if tag in ("td", "th"):
            self.parts.append(";")
        elif tag == "tr":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in ("article", "main"):
            self._article = max(0, self._article - 1)
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
            return
        if self._skip_depth:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)  # HTML whitespace collapsing
        if self._in_h1:
            self.h1.append(data)
        self.parts.append(data)


def html_to_text(source: str) -> tuple[str, str]:
    """Visible text of an HTML page without scripts, styles, navigation, headers, footers, asides or forms.

    The title is the ``<title>``, else the first ``<h1>``, else empty (the loader then uses the file name).
    """
    parser = _TextExtractor()
    parser.feed(source)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*;[ \t]*(?=\n|$)", "", text)  # the separator after a row's last cell
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    return title, text


# --- Markdown -------------------------------------------------------------------------------------

# markdown-it-py parses (CommonMark with GFM tables and strikethrough); only front matter, which
# CommonMark would read as a rule and a heading, is cut off before parsing.
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TASK_BOX = re.compile(r"\A\[[ xX]\][ \t]+")  # "- [x] done": GFM task lists, which CommonMark leaves as text


def _inline_text(children: list[Token]) -> str:
    """The text a reader sees: link text without the URL, code without backticks; images, autolinks and tags dropped."""
    parts: list[str] = []
    skip = ""  # the closing token type that ends a dropped span
    for tok in children:
        if skip:
            skip = "" if tok.type == skip else skip
        elif tok.type in ("text", "code_inline"):
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif tok.type == "link_open" and tok.markup == "autolink":
            skip = "link_close"
    return "".join(parts)


def markdown_to_text(source: str) -> tuple[str, str]:
    """Markdown to the prose a reader sees: link text without URLs, no images, code blocks, comments or table rules.

    Headings, paragraphs and list items become blank-line separated blocks; a table becomes one
    block with a line per row, cells joined by ``"; "``; an HTML block keeps its visible text.
    Title: front matter ``title:``, else the first heading, else empty.
    """
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    title = ""
    m = _FRONT_MATTER.match(source)
    if m:
        source = source[m.end():]
        tm = re.search(r"^title:[ \t]*(.+)$", m.group(1), re.M)
        title = tm.group(1).strip().strip("\"'") if tm else ""
    blocks: list[str] = []
    rows: list[str] = []
    cells: list[str] | None = None
    heading = item = False
    for tok in _MARKDOWN.parse(source):
        if tok.type == "inline":
            text = _inline_text(tok.children or [])
            if item:  # the first paragraph of a list item
                text = _TASK_BOX.sub("", text)
            if cells is not None:
                cells.append(text.strip())
                continue
            text = "\n".join(line.strip() for line in text.split("\n")).strip()
            if heading and not title:
                title = text
            blocks.append(text)
            continue
        item = tok.type == "list_item_open" or (item and tok.type == "paragraph_open")
        if tok.type == "html_block":
            blocks.append(html_to_text(tok.content)[1].strip())  # a comment leaves nothing
        elif tok.type in ("heading_open", "heading_close"):
            heading = tok.type == "heading_open"
        elif tok.type == "tr_open":
            cells = []
        elif tok.type == "tr_close" and cells is not None:
            rows.append("; ".join(c for c in cells if c))
            cells = None
        elif tok.type == "table_close":
            blocks.append("\n".join(r for r in rows if r))
            rows = []
    return title, "\n\n".join(b for b in blocks if b)
