"""The project's CJK font, for everything that draws Chinese: the checklist PDF, test images.

WenQuanYi Micro Hei (文泉驿微米黑) from the ``paperang-p2-fonts-cjk`` package: TrueType outlines
(reportlab embeds only TrueType, not the CFF outlines of Noto/Source Han OTFs), the GB 2312 and
Big5 sets and Latin, 5 MB. Its licence, in the font's own name table: Apache License 2.0
(embedding and redistribution allowed). Installed with the project, so a machine without any
system font prints and draws Chinese.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

PACKAGE = "paperang_p2_fonts_cjk"
FILE = "fonts/wqy-microhei.ttc"
CJK_FONT_INDEX = 0  # the collection's first face: WenQuanYi Micro Hei (1: its monospaced twin)
CJK_FONT_NAME = "WenQuanYi Micro Hei"


@cache
def cjk_font_path() -> Path:
    """Path of the CJK font file (a TrueType collection; face ``CJK_FONT_INDEX``). Pillow:
    ``ImageFont.truetype(cjk_font_path(), size)``; reportlab: ``TTFont(name, cjk_font_path(),
    subfontIndex=CJK_FONT_INDEX)``."""
    try:
        path = Path(str(files(PACKAGE).joinpath(FILE)))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise RuntimeError("the CJK font is missing: install the project again "
                           "(.venv/bin/pip install -e .), which installs paperang-p2-fonts-cjk")
    return path
