"""Checks on uploaded files: type by content, size, and that the file really opens.

Pure: takes bytes, touches no disk, network or clock. Every refusal is an ``Invalid`` whose
``Msg`` says what was wrong and what the step accepts. Parsers see hostile input here, so each
one runs behind a size bound and a catch-all that turns any failure into a refusal.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from openpyxl import load_workbook
from pypdf import PdfReader

from bot.engine import images, sheets
from bot.engine.messages import Invalid, Msg

KINDS = ("jpg", "png", "pdf", "xlsx", "xls", "csv")

MAX_PIXELS = images.MAX_PIXELS
MAX_PDF_PAGES = 500
MAX_XML_ELEMENTS = 500_000  # a streaming scan of this many elements takes about a second
OPENPYXL_PARTS = 1024 * 1024  # openpyxl parses these eagerly: only small ones are handed to it
MAX_UNZIPPED = 100 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024  # tiny entries compress absurdly well and cannot be bombs
SCAN_ROWS = 1000

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
# C0/C1 controls (except tab, CR, LF) and private-use characters: binary decoded as text.
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")
_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "jpe": "jpg", "png": "png", "pdf": "pdf",
               "xlsx": "xlsx", "xls": "xls", "csv": "csv"}


@dataclass(frozen=True)
class FileRule:
    accept: tuple[str, ...]
    max_bytes: int
    recommend_bytes: int | None = None  # above this: accepted with a warning
    min_pixels: int = 0  # images: shorter side below this is refused (0 = no check)
    sharp: bool = False  # images: a blurred one is refused (scans of documents)

    def __post_init__(self) -> None:
        unknown = set(self.accept) - set(KINDS)
        if not self.accept or unknown:
            raise ValueError(f"accept must be a non-empty subset of {KINDS}, got {self.accept}")


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    size: int
    sha256: str
    width: int | None = None  # images, after EXIF orientation
    height: int | None = None
    pages: int | None = None  # pdf
    warnings: tuple[Msg, ...] = ()
    sharpness: float | None = None  # images: see ``images.sharpness``
    phash: str | None = None  # images: see ``images.dhash``
    camera: bool | None = None  # images: carries camera EXIF


def precheck(data: bytes, filename: str, rule: FileRule) -> tuple[FileRule, CheckedFile | Msg]:
    """``check_file`` as data, for ``Upload.checked``: run in another process, the refusal
    comes back as its message (picklable), not as an exception."""
    try:
        return rule, check_file(data, filename, rule)
    except Invalid as refused:
        return rule, refused.message


class Listing:
    """Items of a list inside a message, joined as the merchant's language writes them:
    ``JPG、PNG`` in Chinese, ``JPG, PNG`` in English (the translator calls ``format``)."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[str]) -> None:
        self.items = tuple(items)

    def format(self, locale: str) -> str:
        return ("、" if locale.startswith("zh") else ", ").join(self.items)

    def __str__(self) -> str:
        return self.format("en")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Listing) and other.items == self.items or other == str(self)

    __hash__ = None  # type: ignore[assignment]


def describe_accept(accept: Iterable[str]) -> Listing:
    """``("jpg", "png")`` -> JPG, PNG; the format names are the same in every language."""
    return Listing(kind.upper() for kind in accept)


def size_over(n: int, limit: int) -> str:
    """A size above ``limit``, written as the receipt writes it unless that would read the
    same as the limit (then rounded up)."""
    shown = human_size(n)
    return human_size(n, round_up=True) if shown == human_size(limit) else shown


def human_size(n: int, *, round_up: bool = False) -> str:
    """2097152 -> "2 MB", 1572864 -> "1.5 MB", 20480 -> "20 KB", 800 -> "800 B".

    ``round_up`` keeps a refused size from printing the same as the limit it exceeds.
    """
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        tenths = math.ceil(value * 10) if round_up else round(value * 10)
        if tenths < 10240 or unit == "GB":
            return f"{tenths / 10:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")


def sniff(data: bytes) -> str | None:
    """The file's kind judged by its content alone, or None."""
    if data.startswith(_JPEG):
        return "jpg"
    if data.startswith(_PNG):
        return "png"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(_OLE2):
        return "xls"
    if data.startswith(_ZIP):
        names = _zip_names(data)
        return "xlsx" if {"[Content_Types].xml", "xl/workbook.xml"} <= names else None
    text = _decode_text(data)
    if text is not None and re.search(r"[,;\t]", text):
        return "csv"
    return None


def check_file(data: bytes, filename: str, rule: FileRule) -> CheckedFile:
    """Accept ``data`` for a step governed by ``rule``, or raise ``Invalid``."""
    accepted = describe_accept(rule.accept)
    size = len(data)
    if size == 0:
        raise Invalid(Msg("The file is empty (0 bytes). Please send it again as {accepted}.",
                          accepted=accepted))
    if size > rule.max_bytes:
        raise Invalid(Msg(
            "The file is {size}, over the {limit} limit for this step. "
            "Please send a smaller file ({accepted}).",
            size=human_size(size, round_up=True), limit=human_size(rule.max_bytes),
            accepted=accepted))
    kind = sniff(data)
    if kind not in rule.accept:
        raise Invalid(_wrong_kind(data, kind, filename, accepted))
    details = _CHECKS[kind](data, kind, rule)
    warnings: tuple[Msg, ...] = ()
    if rule.recommend_bytes is not None and size > rule.recommend_bytes:
        warnings = (Msg(
            "The file is {size}; Alibaba.com recommends files under {limit}. It is accepted "
            "here, but you may need a smaller copy when you upload it to the platform.",
            size=size_over(size, rule.recommend_bytes), limit=human_size(rule.recommend_bytes)),)
    return CheckedFile(kind=kind, size=size, sha256=hashlib.sha256(data).hexdigest(),
                       warnings=warnings, **details)


# -- type detection ------------------------------------------------------------------------


def _zip_names(data: bytes) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return set(zf.namelist())
    except Exception:  # a damaged archive can fail in many ways; it is simply not a workbook
        return set()


def _decode_text(data: bytes) -> str | None:
    """The text if ``data`` is UTF-8 (BOM optional) or GB18030 with no control bytes."""
    if b"\x00" in data:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):  # Chinese Excel exports CSV in GB18030 (GBK)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if _NOT_TEXT.search(text) else text
    return None


def _looks_like(data: bytes) -> str | None:
    """A name for common formats this bot never accepts, to tell the merchant what they sent."""
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if data.startswith(b"BM") and data[6:10] == b"\x00\x00\x00\x00":
        return "BMP"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIC"
    if data.startswith(b"Rar!\x1a\x07"):
        return "RAR"
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7Z"
    if data.startswith(_ZIP):
        return "DOCX" if "word/document.xml" in _zip_names(data) else "ZIP"
    return None


def _wrong_kind(data: bytes, kind: str | None, filename: str, accepted: str) -> Msg:
    name = kind.upper() if kind else _looks_like(data)
    if name is None:
        return Msg("This file type is not recognized. This step accepts only {accepted}.",
                   accepted=accepted)
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    if _EXTENSIONS.get(ext, kind) != kind:
        # The name promises one format and the content is another: say so, or the merchant
        # will not understand why their ".jpg" is refused.
        return Msg("This file's name ends in .{extension}, but it is really a {kind} file. "
                   "This step accepts only {accepted}.",
                   extension=ext, kind=name, accepted=accepted)
    return Msg("This file is a {kind} file, but this step accepts only {accepted}.",
               kind=name, accepted=accepted)


# -- content checks, one per kind ----------------------------------------------------------


def _check_image(data: bytes, kind: str, rule: FileRule) -> dict[str, object]:
    try:
        # Only the working copy's pixels are looked at: a JPEG decodes in draft mode.
        picture = images.decode(data, kind, draft=images.WORK_SIDE)
    except images.TooManyPixels:
        raise Invalid(Msg("The image has too many pixels (more than {limit} million). "
                          "Please resize it and send it again.",
                          limit=images.MAX_PIXELS // 1_000_000)) from None
    except images.Damaged:
        raise Invalid(Msg("The file could not be opened as an image; it may be damaged. "
                          "Please send it again as {accepted}.",
                          accepted=describe_accept(rule.accept))) from None
    width, height = picture.size
    if min(width, height) < rule.min_pixels:
        raise Invalid(Msg(
            "The image is only {width}x{height} pixels; its shorter side must be at least "
            "{minimum} pixels. Please send a sharper photo or scan.",
            width=width, height=height, minimum=rule.min_pixels))
    try:
        work = images.grey(picture)
        score, phash = images.sharpness(work), images.dhash(work)
    except Exception:  # an exotic pixel format: the picture opened, so it is not refused
        score, phash = None, None
    if rule.sharp and score is not None and score < images.SHARP_MIN:
        raise Invalid(BLURRED)
    return {"width": width, "height": height, "sharpness": score, "phash": phash,
            "camera": picture.camera}


BLURRED = Msg(
    "This scan looks blurred: reviewers reject documents they cannot read (a common reason "
    "for 未通过). Please take it again: in daylight or a bright room, with the document lying "
    "flat, the whole page in the picture, and the phone held still, or use a scanner."
)


def _check_pdf(data: bytes, kind: str, rule: FileRule) -> dict[str, int]:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = 0 if encrypted else len(reader.pages)  # counting pages only bounds the work
    except Exception:  # pypdf raises PyPdfError, ValueError, KeyError, RecursionError...
        raise Invalid(Msg("The file could not be opened as a PDF; it may be damaged. "
                          "Please export it again and send it.")) from None
    if encrypted:
        raise Invalid(Msg("This is a password-protected PDF: remove the password and send it "
                          "again."))
    if pages == 0:
        raise Invalid(Msg("The PDF has no pages. Please send the complete document."))
    if pages > MAX_PDF_PAGES:
        raise Invalid(Msg("The PDF has {pages} pages, more than the {limit} this bot checks. "
                          "Please send only the pages this step asks for.",
                          pages=pages, limit=MAX_PDF_PAGES))
    return {"pages": pages}


def _check_xlsx(data: bytes, kind: str, rule: FileRule) -> dict[str, int]:
    damaged = Msg("The file could not be opened as a spreadsheet; it may be damaged. "
                  "Please save it again in Excel and send it.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:
        raise Invalid(damaged) from None
    # zipfile stops at the declared size, so bounding declared sizes bounds what is unpacked.
    bomb = sum(i.file_size for i in infos) > MAX_UNZIPPED or any(
        i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1)
        for i in infos)
    if bomb:
        raise Invalid(TOO_MUCH_SHEET)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            filled = sheets.has_values(zf, max_rows=SCAN_ROWS,
                                       budget=sheets.Budget(MAX_XML_ELEMENTS))
            eager = sum(i.file_size for i in infos if _openpyxl_parses(i.filename))
        if eager <= OPENPYXL_PARTS:  # small enough for openpyxl to confirm it opens
            load_workbook(io.BytesIO(data), read_only=True, data_only=True).close()
    except sheets.TooMuch:
        raise Invalid(TOO_MUCH_SHEET) from None
    except Exception:  # openpyxl raises KeyError, ValueError, XML errors... on damaged files
        raise Invalid(damaged) from None
    if not filled:
        raise Invalid(Msg("The spreadsheet has no filled-in cells. Please fill it in and send "
                          "it again."))
    return {}


TOO_MUCH_SHEET = Msg("The spreadsheet unpacks to too much data to check. Please remove unused "
                     "sheets and rows and send it again.")


def _openpyxl_parses(name: str) -> bool:
    # Parts load_workbook reads whole even in read-only mode (worksheets are read lazily).
    return not name.startswith(("xl/worksheets/", "xl/media/", "xl/drawings/", "xl/charts/"))


def _check_xls(data: bytes, kind: str, rule: FileRule) -> dict[str, int]:
    # The legacy binary format has no reader among our dependencies and reviewers open it in
    # Excel themselves, so the signature is enough. One cheap look is worth it: an xlsx saved
    # with a password is also an OLE2 file, holding an "EncryptedPackage" stream.
    if "EncryptedPackage".encode("utf-16-le") in data:
        raise Invalid(Msg("This is a password-protected spreadsheet: remove the password and "
                          "send it again."))
    return {}


def _check_csv(data: bytes, kind: str, rule: FileRule) -> dict[str, int]:
    text = _decode_text(data) or ""
    lines = io.StringIO(text, newline=None)
    for _, line in zip(range(SCAN_ROWS), lines):
        if line.strip(" \t\r\n,;\"'\u3000"):
            return {}
    raise Invalid(Msg("The CSV file has no data rows. Please fill it in and send it again."))


_CHECKS = {"jpg": _check_image, "png": _check_image, "pdf": _check_pdf, "xlsx": _check_xlsx,
           "xls": _check_xls, "csv": _check_csv}
