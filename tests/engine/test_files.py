"""Upload checks: every sample file is generated here, so the tests need no fixtures on disk."""

from __future__ import annotations

import hashlib
import io
import random
import time
import warnings
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from PIL import Image, ImageFile
from pypdf import PdfWriter

from bot.engine.files import (
    KINDS,
    CheckedFile,
    FileRule,
    check_file,
    describe_accept,
    human_size,
    sniff,
)
from bot.engine.messages import Invalid, Msg

MB = 1024 * 1024
IMAGES = FileRule(accept=("jpg", "png"), max_bytes=10 * MB)
LICENSE = FileRule(accept=("jpg", "png", "pdf"), max_bytes=10 * MB, recommend_bytes=2 * MB,
                   min_pixels=300)
SHEETS = FileRule(accept=("xlsx", "xls", "csv"), max_bytes=20 * MB)
ANYTHING = FileRule(accept=KINDS, max_bytes=50 * MB)

DAMAGED_IMAGE = ("The file could not be opened as an image; it may be damaged. "
                 "Please send it again as {accepted}.")
TOO_MANY_PIXELS = Msg("The image has too many pixels (more than {limit} million). "
                      "Please resize it and send it again.", limit=40)
UNRECOGNIZED = "This file type is not recognized. This step accepts only {accepted}."
WRONG_KIND = "This file is a {kind} file, but this step accepts only {accepted}."
WRONG_NAME = ("This file's name ends in .{extension}, but it is really a {kind} file. "
              "This step accepts only {accepted}.")
EMPTY_SHEET = Msg("The spreadsheet has no filled-in cells. Please fill it in and send it again.")


# -- sample files ---------------------------------------------------------------------------


def image_bytes(size=(400, 320), fmt="JPEG", mode="RGB", **save) -> bytes:
    img = Image.new(mode, size, "white" if mode != "1" else 1)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def noisy_jpeg(size=(400, 400)) -> bytes:
    # Noise defeats compression, so the body is long enough for truncation to matter.
    img = Image.frombytes("RGB", size, random.Random(1).randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def rotated_jpeg() -> bytes:
    img = Image.new("RGB", (640, 480), "gray")
    exif = img.getexif()
    exif[0x0112] = 6  # camera held sideways: viewers rotate 90 degrees
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def pdf_bytes(pages=1, password=None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(password, algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def xlsx_bytes(*cells: tuple[str, str, object]) -> bytes:
    wb = Workbook()
    wb.active.title = "Sheet1"
    for sheet, ref, value in cells:
        ws = wb[sheet] if sheet in wb.sheetnames else wb.create_sheet(sheet)
        ws[ref] = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def fake_xlsx(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        for name, body in entries.items():
            zf.writestr(name, body)
    return buf.getvalue()


def ole2(body: bytes = b"") -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + body


def refusal(data: bytes, rule: FileRule, filename: str = "upload") -> Msg:
    with pytest.raises(Invalid) as info:
        check_file(data, filename, rule)
    return info.value.message


# -- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (800, "800 B"), (1024, "1 KB"), (20480, "20 KB"), (1572864, "1.5 MB"),
     (2097152, "2 MB"), (1048575, "1 MB"), (3 * 1024 * MB, "3 GB")],
)
def test_human_size(n, text):
    assert human_size(n) == text


def test_human_size_round_up_never_prints_the_limit_for_a_bigger_file():
    assert human_size(2 * MB + 1) == "2 MB"
    assert human_size(2 * MB + 1, round_up=True) == "2.1 MB"


def test_describe_accept():
    assert describe_accept(("jpg", "png")) == "JPG, PNG"
    assert describe_accept(["xlsx", "xls", "csv"]) == "XLSX, XLS, CSV"


def test_rule_rejects_unknown_kinds():
    with pytest.raises(ValueError):
        FileRule(accept=("jpg", "gif"), max_bytes=1)
    with pytest.raises(ValueError):
        FileRule(accept=(), max_bytes=1)


# -- sniffing -------------------------------------------------------------------------------


def test_sniff_by_content():
    assert sniff(image_bytes()) == "jpg"
    assert sniff(image_bytes(fmt="PNG")) == "png"
    assert sniff(pdf_bytes()) == "pdf"
    assert sniff(xlsx_bytes(("Sheet1", "A1", 1))) == "xlsx"
    assert sniff(ole2()) == "xls"
    assert sniff("名称,数量\n螺丝,100\n".encode("gb18030")) == "csv"
    assert sniff(b"a;b\n1;2\n") == "csv"


@pytest.mark.parametrize(
    "data",
    [b"", b"junk\n%PDF-1.7\n", b"PK\x03\x04not really a zip", b"just words, no newline\x01",
     b"plain text without separators\n", "a,b\n".encode("utf-16"), b"a,b\n\xff\xfe\xfd",
     random.Random(7).randbytes(4096)],
)
def test_sniff_refuses(data):
    assert sniff(data) is None


def test_sniff_plain_zip_is_not_xlsx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert sniff(buf.getvalue()) is None


# -- generic refusals -----------------------------------------------------------------------


def test_empty_file():
    assert refusal(b"", IMAGES) == Msg(
        "The file is empty (0 bytes). Please send it again as {accepted}.", accepted="JPG, PNG")


def test_too_large_names_size_and_limit():
    rule = FileRule(accept=("pdf",), max_bytes=2 * MB)
    data = pdf_bytes() + b"\n" * (2 * MB)
    assert refusal(data, rule) == Msg(
        "The file is {size}, over the {limit} limit for this step. "
        "Please send a smaller file ({accepted}).",
        size="2.1 MB", limit="2 MB", accepted="PDF")


def test_random_bytes_are_unrecognized():
    data = random.Random(3).randbytes(5000)
    assert refusal(data, IMAGES, "photo.jpg") == Msg(UNRECOGNIZED, accepted="JPG, PNG")


def test_pdf_named_jpg_is_judged_as_pdf():
    assert refusal(pdf_bytes(), IMAGES, "license.JPG") == Msg(
        WRONG_NAME, extension="jpg", kind="PDF", accepted="JPG, PNG")


def test_pdf_named_pdf_on_image_step():
    assert refusal(pdf_bytes(), IMAGES, "license.pdf") == Msg(
        WRONG_KIND, kind="PDF", accepted="JPG, PNG")


def test_png_named_jpg_is_accepted_as_png():
    checked = check_file(image_bytes(fmt="PNG"), "photo.jpg", IMAGES)
    assert (checked.kind, checked.width, checked.height) == ("png", 400, 320)


def test_png_named_jpg_on_jpg_only_step():
    rule = FileRule(accept=("jpg",), max_bytes=MB)
    assert refusal(image_bytes(fmt="PNG"), rule, "photo.jpeg") == Msg(
        WRONG_NAME, extension="jpeg", kind="PNG", accepted="JPG")


@pytest.mark.parametrize(
    ("data", "kind"),
    [(image_bytes(fmt="GIF", mode="P"), "GIF"),
     (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "HEIC"),
     (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "WEBP")],
)
def test_known_but_unaccepted_formats_are_named(data, kind):
    assert refusal(data, IMAGES, "photo") == Msg(WRONG_KIND, kind=kind, accepted="JPG, PNG")
    assert refusal(data, IMAGES, "photo.png") == Msg(
        WRONG_NAME, extension="png", kind=kind, accepted="JPG, PNG")


def test_xls_on_xlsx_only_step_is_named():
    rule = FileRule(accept=("xlsx",), max_bytes=MB)
    assert refusal(ole2(), rule, "report.xls") == Msg(WRONG_KIND, kind="XLS", accepted="XLSX")


# -- images ---------------------------------------------------------------------------------


def test_jpeg_accepted_with_size_and_hash():
    data = image_bytes((400, 320))
    checked = check_file(data, "photo.jpg", LICENSE)
    assert checked == CheckedFile(kind="jpg", size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(), width=400, height=320,
                                  sharpness=0.0, phash="0" * 16, camera=False)


def test_exif_orientation_swaps_width_and_height():
    checked = check_file(rotated_jpeg(), "photo.jpg", IMAGES)
    assert (checked.width, checked.height) == (480, 640)


def test_truncated_jpeg_is_damaged():
    data = noisy_jpeg()
    assert check_file(data, "a.jpg", IMAGES).kind == "jpg"
    assert refusal(data[: len(data) // 2], IMAGES) == Msg(DAMAGED_IMAGE, accepted="JPG, PNG")


def test_png_with_bad_crc_is_damaged():
    data = bytearray(image_bytes(fmt="PNG"))
    data[len(data) // 2] ^= 0xFF  # inside IDAT: verify() notices the CRC
    assert refusal(bytes(data), IMAGES) == Msg(DAMAGED_IMAGE, accepted="JPG, PNG")


def test_image_too_small_in_pixels():
    assert refusal(image_bytes((250, 600)), LICENSE) == Msg(
        "The image is only {width}x{height} pixels; its shorter side must be at least "
        "{minimum} pixels. Please send a sharper photo or scan.",
        width=250, height=600, minimum=300)


def test_decompression_bomb_png_is_refused():
    # 100 megapixels of one bit each: about 12 KB on disk, over Pillow's own limit at open().
    data = image_bytes((10_000, 10_000), fmt="PNG", mode="1")
    assert len(data) < 50_000
    assert refusal(data, IMAGES) == TOO_MANY_PIXELS


def test_decompression_bomb_without_warnings_as_errors():
    # In production Pillow only warns at this size; our own check must still refuse.
    data = image_bytes((10_000, 10_000), fmt="PNG", mode="1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert refusal(data, IMAGES) == TOO_MANY_PIXELS


def test_image_over_our_limit_but_under_pillows_is_refused():
    data = image_bytes((8_000, 6_000), fmt="PNG", mode="1")  # 48 megapixels
    assert refusal(data, IMAGES) == TOO_MANY_PIXELS


def test_pillow_global_state_is_untouched():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    refusal(image_bytes((10_000, 10_000), fmt="PNG", mode="1"), IMAGES)
    refusal(noisy_jpeg()[:2000], IMAGES)
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


def test_large_file_is_accepted_with_warning():
    rule = FileRule(accept=("pdf",), max_bytes=10 * MB, recommend_bytes=20 * 1024)
    data = pdf_bytes() + b"\n" * 30_000
    checked = check_file(data, "license.pdf", rule)
    assert checked.pages == 1
    assert checked.warnings == (Msg(
        "The file is {size}; Alibaba.com recommends files under {limit}. It is accepted "
        "here, but you may need a smaller copy when you upload it to the platform.",
        size=human_size(len(data)), limit="20 KB"),)  # as the receipt says it


def test_small_file_has_no_warning():
    assert check_file(image_bytes(), "a.jpg", LICENSE).warnings == ()


# -- pdf ------------------------------------------------------------------------------------


def test_pdf_pages_are_counted():
    assert check_file(pdf_bytes(3), "report.pdf", LICENSE).pages == 3


def test_encrypted_pdf():
    assert refusal(pdf_bytes(password="secret"), LICENSE) == Msg(
        "This is a password-protected PDF: remove the password and send it again.")


def test_pdf_without_pages():
    assert refusal(pdf_bytes(0), LICENSE) == Msg(
        "The PDF has no pages. Please send the complete document.")


@pytest.mark.parametrize("data", [b"%PDF-1.4\n" + b"garbage " * 100, pdf_bytes()[:200]])
def test_unreadable_pdf(data):
    assert refusal(data, LICENSE) == Msg(
        "The file could not be opened as a PDF; it may be damaged. "
        "Please export it again and send it.")


# -- spreadsheets ---------------------------------------------------------------------------


def test_xlsx_with_values():
    data = xlsx_bytes(("Sheet1", "B3", "工厂面积"), ("Sheet1", "C3", 1200))
    checked = check_file(data, "report.xlsx", SHEETS)
    assert (checked.kind, checked.size) == ("xlsx", len(data))


def test_xlsx_value_on_a_later_sheet():
    assert check_file(xlsx_bytes(("Data", "A1", 0)), "r.xlsx", SHEETS).kind == "xlsx"


@pytest.mark.parametrize("cells", [(), (("Sheet1", "A1", "   "),), (("Sheet1", "A2000", 5),)])
def test_xlsx_without_values(cells):
    # A value below the scanned rows counts as empty: the scan is bounded on purpose.
    assert refusal(xlsx_bytes(*cells), SHEETS) == EMPTY_SHEET


def test_xlsx_zip_bomb_by_ratio():
    data = fake_xlsx({"xl/worksheets/sheet1.xml": b" " * (20 * MB)})
    assert len(data) < 200_000
    assert refusal(data, SHEETS) == Msg(
        "The spreadsheet unpacks to too much data to check. Please remove unused sheets and "
        "rows and send it again.")


def test_xlsx_zip_bomb_by_total_size():
    chunk = b"\x00" * MB  # each entry at the ratio floor, so only the total trips
    data = fake_xlsx({f"xl/media/{i}.bin": chunk for i in range(101)})
    assert refusal(data, SHEETS).msgid.startswith("The spreadsheet unpacks to too much data")


def test_fake_xlsx_is_damaged():
    assert refusal(fake_xlsx({}), SHEETS) == Msg(
        "The file could not be opened as a spreadsheet; it may be damaged. "
        "Please save it again in Excel and send it.")


def test_xls_signature_is_enough():
    data = ole2("Workbook".encode("utf-16-le"))
    assert check_file(data, "report.xls", SHEETS).kind == "xls"


def test_password_protected_xlsx_is_refused():
    data = ole2("EncryptedPackage".encode("utf-16-le"))
    assert refusal(data, SHEETS, "report.xlsx") == Msg(
        "This is a password-protected spreadsheet: remove the password and send it again.")


@pytest.mark.parametrize(
    "data",
    ["名称,数量\n螺丝,100\n".encode(), "\ufeff名称;数量\r\n螺丝;100\r\n".encode(),
     "名称\t数量\n螺丝\t100\n".encode("gb18030")],
)
def test_csv_accepted(data):
    checked = check_file(data, "data.txt", SHEETS)
    assert (checked.kind, checked.size) == ("csv", len(data))


def test_csv_without_data():
    assert refusal(b",,,\n ; ;\n\n", SHEETS) == Msg(
        "The CSV file has no data rows. Please fill it in and send it again.")


# -- robustness -----------------------------------------------------------------------------

SAMPLES = [image_bytes((64, 48)), rotated_jpeg(), image_bytes((64, 48), fmt="PNG"),
           pdf_bytes(2), xlsx_bytes(("Sheet1", "A1", "x")), "a,b\n1,2\n".encode(), ole2()]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= 1 << draw(st.integers(0, 7))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=200, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2048), mutated()))
def test_any_input_is_accepted_or_refused_quickly(data):
    started = time.monotonic()
    try:
        checked = check_file(data, "upload.bin", ANYTHING)
    except Invalid as exc:
        assert isinstance(exc.message, Msg)
    else:
        assert checked.kind in KINDS and checked.size == len(data)
    assert time.monotonic() - started < 5  # a hang, not a speed, check
