"""The checklist as a printable A4 PDF, Chinese included, on any machine.

The text is set in the project's CJK font (``bot.fonts``, WenQuanYi Micro Hei), embedded as a
subset of the glyphs the checklist uses: a reader or printer without any Chinese font shows it
as written, and text extraction and copying return the real characters (reportlab writes the
subset's ToUnicode map). A character the font has no glyph for would print as a blank box, so
it is replaced by a plain equivalent first.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from functools import cache

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from bot.fonts import CJK_FONT_INDEX, cjk_font_path

FONT = "CJK"
TITLE_SIZE, HEADING_SIZE, BODY_SIZE = 16, 12, 10.5
MARGIN = 56  # points: about 2 cm
LEADING = 1.55
_PLAIN = {"›": ">", "•": "-", "–": "-", "✓": "√", "✔": "√", "✗": "×", "✘": "×", "…": "...",
          "¥": "￥", "\u00a0": " "}
# Some CJK fonts have no glyph for the Latin-1 middle dot: a list bullet is a dash.
_BULLET = "· "


@cache
def _face() -> TTFont:
    font = TTFont(FONT, str(cjk_font_path()), subfontIndex=CJK_FONT_INDEX)
    pdfmetrics.registerFont(font)  # once: reportlab's registry is process-wide
    return font


def _font() -> str:
    _face()
    return FONT


def _has_glyph(char: str) -> bool:
    return char in "\n\t" or ord(char) in _face().face.charToGlyph


def printable(text: str) -> str:
    """``text`` with every character the font can print, others replaced."""
    out = []
    for char in text:
        char = _PLAIN.get(char, char)  # may be several characters ("…" is "...")
        if not all(_has_glyph(c) for c in char):
            char = unicodedata.normalize("NFKC", char)
            if not all(_has_glyph(c) for c in char):
                char = "?"
        out.append(char)
    return "".join(out)


def wrap(text: str, width: float, size: float) -> list[str]:
    """Break one line to ``width`` points: between words for Latin text, anywhere in Chinese."""
    font = _font()
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return [text]
    indent = text[: len(text) - len(text.lstrip())]
    lines, line = [], ""
    for token in _tokens(text):
        candidate = line + token
        if line.strip() and pdfmetrics.stringWidth(candidate, font, size) > width:
            lines.append(line.rstrip())
            line = indent + "  " + token.lstrip()
        else:
            line = candidate
        while pdfmetrics.stringWidth(line, font, size) > width:  # a token wider than a line
            cut = len(line) - 1
            while cut > 1 and pdfmetrics.stringWidth(line[:cut], font, size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = indent + "  " + line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(text: str) -> Iterable[str]:
    """Latin words with their trailing space; each CJK character on its own."""
    word = ""
    for char in text:
        if ord(char) > 0x2E80:  # CJK and full-width forms: a line may break before any of them
            if word:
                yield word
                word = ""
            yield char
        else:
            word += char
            if char == " ":
                yield word
                word = ""
    if word:
        yield word


def render(title: str, lines: Iterable[str], *, footer: str = "") -> bytes:
    """A4 pages: ``title`` on top, then ``lines``; a line starting with 【 is a heading."""
    font = _font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1)
    pdf.setTitle(printable(title))
    pdf.setAuthor("alibaba-cert-guide")
    page_width, page_height = A4
    usable = page_width - 2 * MARGIN
    page = 1
    y = page_height - MARGIN

    def finish_page() -> None:
        nonlocal page
        pdf.setFont(font, 8)
        pdf.drawCentredString(page_width / 2, MARGIN / 2, printable(f"{footer}  {page}".strip()))
        pdf.showPage()
        page += 1

    for text, size in [(title, TITLE_SIZE)] + [
        (line, HEADING_SIZE if line.startswith("【") else BODY_SIZE) for line in lines
    ]:
        text = printable(text.rstrip())
        if text.lstrip().startswith(_BULLET):
            text = text.replace(_BULLET, "- ", 1)
        if not text:
            y -= BODY_SIZE * 0.8
            continue
        if size == HEADING_SIZE:
            y -= BODY_SIZE * 0.6
        for piece in wrap(text, usable, size):
            if y - size * LEADING < MARGIN:
                finish_page()
                y = page_height - MARGIN
            y -= size * LEADING
            pdf.setFont(font, size)
            pdf.drawString(MARGIN, y, piece)
    finish_page()
    pdf.save()
    return buffer.getvalue()
