"""License scans the tests draw: the fields where a real 营业执照 prints them, in a CJK font."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.engine.validators import uscc_check_char

# Debian's fonts-wqy-zenhei until the project ships its own CJK font; tests that draw licenses
# are skipped where neither is installed.
_FALLBACK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),)


def cjk_font_path() -> Path | None:
    """The one place the tests pick their CJK font."""
    try:
        from bot.fonts import cjk_font_path as project_font  # type: ignore[import-not-found]
    except ImportError:
        project_font = None
    if project_font is not None:
        return Path(project_font())
    return next((p for p in _FALLBACK_FONTS if p.exists()), None)


def valid_code(first17: str = "91330206MA2CK5RX3") -> str:
    return first17 + uscc_check_char(first17)


def wrong_code(first17: str = "91330206MA2CK5RX3") -> str:
    right = uscc_check_char(first17)
    return first17 + ("1" if right != "1" else "2")


@dataclass(frozen=True)
class License:
    name: str = "宁波海岸贸易有限公司"
    code: str = valid_code()
    title: str = "法定代表人"
    person: str = "张伟"
    term: str = "2015年03月12日至2035年03月11日"
    english: bool = False  # bilingual labels (名称 Name ...)

    def but(self, **changes) -> License:
        return replace(self, **changes)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), size)


def draw(lic: License = License(), *, size=(1600, 1130)) -> Image.Image:
    """The layout of the 2019 license: code top left, title centred, two columns of fields."""
    w, h = size
    image = Image.new("RGB", size, (250, 246, 236))
    pen = ImageDraw.Draw(image)
    pen.rectangle([30, 30, w - 30, h - 30], outline=(180, 40, 40), width=8)
    small = _font(18)
    pen.text((80, 90), "统一社会信用代码", font=_font(26), fill="black")
    if lic.english:
        pen.text((80, 60), "Unified Social Credit Code", font=small, fill="black")
    pen.text((80, 125), lic.code, font=_font(30), fill="black")
    pen.text((w // 2 - 220, 150), "营 业 执 照", font=_font(96), fill="black")
    left = [("名    称", "Name", lic.name), ("类    型", "Type", "有限责任公司"),
            (lic.title, "Legal Representative", lic.person),
            ("经营范围", "Business Scope", "货物进出口；技术进出口")]
    right = [("注册资本", "Registered Capital", "壹佰万元整"),
             ("成立日期", "Date of Establishment", "2015年03月12日"),
             ("营业期限", "Business Term", lic.term),
             ("住    所", "Domicile", "浙江省宁波市鄞州区")]
    y = 380
    for row in zip(left, right, strict=True):
        for x, (zh, en, value) in zip((110, 830), row, strict=True):
            pen.text((x, y), zh, font=_font(28), fill="black")
            if lic.english:  # the English label in small type under the Chinese one
                pen.text((x, y + 36), en, font=small, fill="black")
            pen.text((x + 180, y), value, font=_font(28), fill="black")
        y += 90
    pen.text((w - 520, h - 200), "登记机关  宁波市市场监督管理局", font=_font(26), fill="black")
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def rotated(image: Image.Image, angle: int = 90) -> Image.Image:
    return image.rotate(angle, expand=True)


def blurred(image: Image.Image, radius: float = 6) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


_reads: dict[str, object] = {}


def read(name: str, image: Image.Image):
    """What the recogniser and parser make of ``image``, in this process (cached by ``name``:
    both languages' tests look at one read)."""
    if name not in _reads:
        import time

        from bot.license import ocr

        if ocr._engine is None:
            ocr._start_worker()
        _reads[name] = ocr.read_license(png(image), time.time() + 60)
    return _reads[name]
