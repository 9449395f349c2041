"""Sample files made on the spot: scans, photos, spreadsheets, PDFs, hostile ones included."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfWriter

MB = 1024 * 1024


# -- scans of documents -----------------------------------------------------------------------


def page(size=(1200, 850), *, ink=20, paper=245, seed=1, layout="dense") -> Image.Image:
    """A license-like page: a title, lines of small print, a faint guilloche and a red seal.

    ``layout``: ``dense`` (print everywhere), ``sparse`` (print in the top third only, the rest
    blank paper) or ``desk`` (the page lying on a desk, filling 70% of the picture)."""
    if layout == "desk":
        rng = random.Random(seed)
        desk = Image.effect_noise(size, 30).convert("RGB")
        desk = Image.blend(desk, Image.new("RGB", size, (120, 80, 40)), 0.6)
        desk = desk.filter(ImageFilter.GaussianBlur(2 * size[0] / 1200))
        inner = page((int(size[0] * 0.7), int(size[1] * 0.7)), ink=ink, paper=paper,
                     seed=rng.randrange(1000))
        desk.paste(inner, (int(size[0] * 0.15), int(size[1] * 0.15)))
        return desk
    rng = random.Random(seed)
    width, height = size
    unit = width / 1200
    image = Image.new("RGB", size, (paper, paper, paper - 10))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, max(2, int(6 * unit))):
        draw.line([(x, 0), (x + height // 3, height)], fill=(paper - 12, paper - 8, paper - 20))
    big = ImageFont.load_default(size=max(8, int(48 * unit)))
    fonts = [ImageFont.load_default(size=max(6, int(s * unit))) for s in (22, 15)]
    draw.text((width * 0.35, 40 * unit), "BUSINESS LICENSE", fill=(ink,) * 3, font=big)
    y = 140 * unit
    bottom = height * 0.3 if layout == "sparse" else height - 60 * unit
    while y < bottom:
        words = " ".join("".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                                 for _ in range(rng.randint(2, 9))) for _ in range(8))
        draw.text((60 * unit, y), words, fill=(ink,) * 3, font=rng.choice(fonts))
        y += 34 * unit
    seal = (width * 0.7, height * 0.6, width * 0.7 + 180 * unit, height * 0.6 + 180 * unit)
    draw.ellipse(seal, outline=(200, 30, 30), width=max(1, int(6 * unit)))
    return image


def blurred(image: Image.Image, radius: float) -> Image.Image:
    """``radius`` in pixels of a page 1200 pixels wide: scaled with the picture."""
    return image.filter(ImageFilter.GaussianBlur(radius * max(image.size) / 1200))


def encode(image: Image.Image, fmt="JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 85)
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def scan(size=(1200, 850), *, seed=1, blur=0.0, fmt="PNG", **options) -> bytes:
    image = page(size, seed=seed)
    return encode(blurred(image, blur) if blur else image, fmt, **options)


def large_scan(target=3 * MB, seed=1) -> bytes:
    """A sharp scan over ``target`` bytes: paper grain makes a high-quality JPEG heavy."""
    image = page((3000, 2120), seed=seed)
    grain = Image.effect_noise(image.size, 24).convert("RGB")
    image = Image.blend(image, grain, 0.16)
    data = encode(image, "JPEG", quality=97)
    assert len(data) > target, len(data)
    return data


# -- photos of the site -----------------------------------------------------------------------


def scene(seed=1, size=(1600, 1200)) -> Image.Image:
    """A factory-like scene: a floor, walls, machines as blocks, pipes as lines."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randint(90, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle([0, height * 0.6, width, height], fill=tuple(rng.randint(40, 120)
                                                              for _ in range(3)))
    for _ in range(30):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randint(40, width // 3), rng.randint(40, height // 3)
        draw.rectangle([x, y, x + w, y + h], fill=tuple(rng.randint(0, 255) for _ in range(3)),
                       outline=(0, 0, 0), width=3)
    for _ in range(20):
        draw.line([(rng.randrange(width), rng.randrange(height)),
                   (rng.randrange(width), rng.randrange(height))],
                  fill=(30, 30, 30), width=rng.randint(2, 8))
    return image


def photo(seed=1, size=(1600, 1200), *, camera=True, orientation=None, quality=88) -> bytes:
    """A JPEG of ``scene(seed)``; ``camera``: with the EXIF a phone writes."""
    image = scene(seed, size)
    exif = Image.Exif()
    if camera:
        exif[0x010F] = "HUAWEI"  # Make
        exif[0x0110] = "P60 Pro"  # Model
        exif.get_ifd(0x8769)[0x829A] = 0.01  # ExposureTime
    if orientation:
        exif[0x0112] = orientation
    return encode(image, "JPEG", quality=quality, exif=exif)


def screenshot_png(seed=1, size=(1280, 960)) -> bytes:
    return encode(scene(seed, size), "PNG")


# -- spreadsheets and PDFs --------------------------------------------------------------------


def pdf_bytes(pages=1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def raw_pdf(objects: dict[int, bytes], root=1, trailer=b"") -> bytes:
    """A PDF written by hand, for structures no writer produces (loops)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    size = max(objects) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets.get(number, 0))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
              % (size, root, trailer, xref))
    return out.getvalue()


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
HOSTILE_PDFS = {
    "page tree loop": raw_pdf({1: CATALOG, 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                               3: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"}),
    "kids point at the tree itself": raw_pdf({
        1: CATALOG, 2: b"<< /Type /Pages /Kids [2 0 R 2 0 R] /Count 2 >>"}),
    "reference to itself": raw_pdf({1: CATALOG, 2: b"2 0 R"}),
    "xref /Prev pointing at itself": raw_pdf(
        {1: CATALOG, 2: b"<< /Type /Pages /Kids [] /Count 0 >>"}, trailer=b"/Prev 9 "),
    "page count lies": raw_pdf({
        1: CATALOG, 2: b"<< /Type /Pages /Kids [3 0 R] /Count 999999999 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"}),
}


def flate_bomb_pdf() -> bytes:
    """Metadata that inflates to 200 MB from a few hundred kilobytes."""
    packer = zlib.compressobj(9)
    chunk = bytes(MB)
    bomb = b"".join(packer.compress(chunk) for _ in range(200)) + packer.flush()
    return raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R >>",
                    2: b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                    3: b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                       % (len(bomb), bomb),
                    4: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"})


_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
          'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
          'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
          'worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
         'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         '</Relationships>')
_BOOK = ('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
         '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
_BOOK_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
              'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
              'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/'
              'sheet1.xml"/></Relationships>')
SHEET_HEAD = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"


def handmade_xlsx(sheet: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook around one worksheet's XML (for shapes openpyxl never writes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _BOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, body in (extra or {}).items():
            zf.writestr(name, body)
    return buffer.getvalue()


def dense_row_xlsx(cells=700_000, seed=1) -> bytes:
    """One row of many empty cells that compress poorly: under every ratio limit, yet
    openpyxl would build it whole (gigabytes) before finding nothing."""
    rng = random.Random(seed)
    letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body = b"".join(b'<c r="%s%d" s="%d"/>' % (bytes(rng.choice(letters) for _ in range(3)),
                                               rng.randint(1, 999999), rng.randint(0, 99999))
                    for _ in range(cells))
    return handmade_xlsx(SHEET_HEAD + b'<row r="1">' + body + b"</row>" + SHEET_TAIL)


def entity_xlsx() -> bytes:
    """Billion laughs in a worksheet."""
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>'
              b"</sheetData></worksheet>")
    return handmade_xlsx(laughs)
