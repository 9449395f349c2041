"""The checklist PDF carries its own Chinese font: it prints on a machine without any."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader

from bot.documents.pdf import printable, render
from bot.fonts import CJK_FONT_NAME, cjk_font_path

LINES = ["【营业执照】", "· 统一社会信用代码：91330200MA2XXXXXXX", "生产线_1.jpg（2.8 MB）",
         "TÜV Rheinland 实地验证 › 认证中心"]


def fonts_of(reader: PdfReader) -> list:
    found = []
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            found += [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]
    return found


def test_the_pdf_embeds_a_subset_of_the_projects_cjk_font_and_its_text_extracts():
    data = render("材料清单 · 宁波海岸贸易有限公司", LINES, footer="第")
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for line in ("材料清单", "营业执照", "统一社会信用代码", "生产线_1.jpg", "TÜV Rheinland",
                 "实地验证"):
        assert line in text
    fonts = fonts_of(reader)
    assert fonts
    for font in fonts:
        assert "STSong" not in str(font.get("/BaseFont", ""))  # nothing left to the reader
        descriptor = font.get("/FontDescriptor")
        if descriptor is not None:
            descriptor = descriptor.get_object()
            assert "/FontFile2" in descriptor  # the TrueType program is in the file
            assert CJK_FONT_NAME.replace(" ", "") in str(descriptor["/FontName"])
    embedded = [f for f in fonts if "/FontDescriptor" in f]
    assert embedded
    # a subset, not the 5 MB font: the file stays small
    assert len(data) < 200_000 < cjk_font_path().stat().st_size


def test_characters_without_a_glyph_are_replaced_not_left_blank():
    assert printable("认证 › 通过 ✓") == "认证 > 通过 √"
    assert printable("\U0001F600") == "?"


def test_the_font_draws_chinese_on_images():
    font = ImageFont.truetype(str(cjk_font_path()), 48)

    def drawn(char: str) -> bytes:
        image = Image.new("L", (64, 64), 255)
        ImageDraw.Draw(image).text((8, 4), char, font=font, fill=0)
        assert image.getextrema()[0] == 0  # ink
        return image.tobytes()

    # a font without these glyphs draws the same empty box for both
    assert drawn("营") != drawn("业") != drawn("照")
