"""The project's Markdown with TeX maths as HTML for an LMS: maths in MathJax delimiters, text escaped."""

from __future__ import annotations

import html
import re

_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")
_CODE = re.compile(r"`([^`]+)`")
_ITEM = re.compile(r"^\s*[-*] ")


def inline_html(text: str) -> str:
    """One paragraph's Markdown as HTML: $..$ as \\(..\\), $$..$$ as \\[..\\], **bold**, *italic*, `code`."""
    out, pos = [], 0
    for m in _MATH.finditer(text):
        out.append(_text_html(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\[" + html.escape(m.group(1), quote=False) + "\\]")
        else:
            out.append("\\(" + html.escape(m.group(2), quote=False) + "\\)")
        pos = m.end()
    out.append(_text_html(text[pos:]))
    return "".join(out)


def _text_html(text: str) -> str:
    t = html.escape(text, quote=False)
    t = _CODE.sub(r"<code>\1</code>", t)
    t = _BOLD.sub(r"<strong>\1</strong>", t)
    return _ITALIC.sub(r"<em>\1</em>", t)


def markdown_html(text: str) -> str:
    """Paragraphs (blank lines) and '- ' lists of the project's Markdown as HTML."""
    blocks = re.split(r"\n\s*\n", text.strip())
    out = []
    for block in blocks:
        lines = block.splitlines()
        if lines and all(_ITEM.match(ln) for ln in lines):
            items = "".join("<li>" + inline_html(_ITEM.sub("", ln)) + "</li>" for ln in lines)
            out.append(f"<ul>{items}</ul>")
        elif block.strip():
            out.append(f"<p>{inline_html(' '.join(ln.strip() for ln in lines))}</p>")
    return "\n".join(out)


def plain_text(fragment: str) -> str:
    """An HTML fragment as the plain text an LMS report shows of it: tags dropped, entities read, spaces joined."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
