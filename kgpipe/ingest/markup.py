"""Markup to plain text for the loader: HTML (boilerplate dropped) and Markdown (syntax dropped).

Both return ``(title, text)``. Headings, paragraphs and list items end up separated by blank
lines, which the chunker treats as hard boundaries, so a heading never runs into the next sentence.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

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

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^[ \t]{0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_REF_DEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")
_QUOTE = re.compile(r"^[ \t]{0,3}(>[ \t]?)+")
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_INLINE = [
    (re.compile(r"!\[[^\]]*\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)"), ""),  # images
    (re.compile(r"!\[[^\]]*\]\[[^\]]*\]"), ""),  # reference images
    (re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)"), r"\1"),  # links: keep the text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>"), ""),  # autolinks
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # inline HTML tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # emphasis, not snake_case
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
]


def _inline(line: str) -> str:
    for pattern, repl in _INLINE:
        line = pattern.sub(repl, line)
    return line


def markdown_to_text(source: str) -> tuple[str, str]:
    """Markdown to the prose a reader sees: link text without URLs, no images, code blocks, comments or tables rules.

    Title: front matter ``title:``, else the first heading, else empty.
    """
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    title = ""
    m = _FRONT_MATTER.match(source)
    if m:
        source = source[m.end():]
        tm = re.search(r"^title:[ \t]*(.+)$", m.group(1), re.M)
        title = tm.group(1).strip().strip("\"'") if tm else ""
    source = _COMMENT.sub("", source)
    # Escaped characters hide in the private-use area so the inline rules cannot see them.
    source = _ESCAPE.sub(lambda e: chr(0xE000 + ord(e.group(1))), source)

    out: list[str] = []
    fence = ""
    underline = False  # the next line is the underline of a setext heading
    lines = source.split("\n")
    for i, line in enumerate(lines):
        fm = _FENCE.match(line)
        if fence:  # inside a fenced code block: drop until the matching fence
            if fm and fm.group(1)[0] == fence[0] and len(fm.group(1)) >= len(fence):
                fence = ""
            continue
        if fm:
            fence = fm.group(1)
            continue
        if underline:
            underline = False
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        heading = _ATX.match(line)
        underline = bool(not heading and line.strip() and _SETEXT.match(nxt) and not _LIST.match(line))
        if heading or underline:
            text = _inline((heading.group(1) or "") if heading else line.strip()).strip()
            title = title or text
            out += ["", text, ""]
            continue
        if _RULE.match(line) or _REF_DEF.match(line) or _TABLE_SEP.match(line):
            continue
        line = _QUOTE.sub("", line)
        if _LIST.match(line):
            out.append("")  # each list item its own paragraph
            line = _LIST.sub("", line)
        stripped = line.strip()
        if stripped.startswith("|") or (stripped.count("|") >= 2 and " | " in stripped):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            line = "; ".join(c for c in cells if c)
        out.append(_inline(line))
    text = "\n".join(out)
    text = re.sub("[\ue000-\ue07f]", lambda e: chr(ord(e.group(0)) - 0xE000), text)
    title = re.sub("[\ue000-\ue07f]", lambda e: chr(ord(e.group(0)) - 0xE000), title)
    return html.unescape(title), html.unescape(text)
