"""Pixels: decode an image fully within bounds, and measure what a reviewer looks at.

Pure: bytes in, numbers and bytes out. ``decode`` refuses a decompression bomb from the header,
before a single pixel is allocated, so memory stays bounded by ``MAX_PIXELS``; everything after
it works on a small greyscale copy (``WORK_SIDE``), so time is bounded by the decode.

- ``sharpness``: variance of the Laplacian, after stretching the contrast, taken per tile; the
  score is the 90th percentile over the tiles, so margins and blank areas do not drag a sharp
  page down. ``SHARP_MIN`` is calibrated in ``tests/engine/test_images.py`` on generated scans:
  text that a person reads at a glance against the same page blurred until the small print
  goes.
- ``dhash``: a 64-bit difference hash: near-identical pictures (recompressed, resized, a little
  brighter) differ in a few bits, different pictures in about half of them.
"""

from __future__ import annotations

import io
import operator
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageFilter, ImageOps

MAX_PIXELS = 40_000_000  # well below Pillow's own bomb limit, and enough for any phone photo
WORK_SIDE = 800  # longer side of the greyscale working copy
TILES = 8  # the working copy is cut into TILES x TILES tiles for the sharpness score
SHARP_MIN = 1000.0  # below: a scan's small print is not legible (see the module docstring)
PHOTO_SOFT = 400.0  # below: a photo is clearly out of focus (a warning, never a refusal)
NEAR_BITS = 6  # dHash distance at or below which two photos count as the same picture

_LAPLACE = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)
_T = Image.Transpose
_UPRIGHT = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE,
            6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90}
_FORMATS = {"jpg": ("JPEG",), "png": ("PNG",)}
# Tags a camera writes and a picture saved from a web page or a screenshot rarely has.
_CAMERA_TAGS = (ExifTags.Base.Make, ExifTags.Base.Model)
_SHOT_TAGS = (ExifTags.Base.ExposureTime, ExifTags.Base.FNumber,
              ExifTags.Base.ISOSpeedRatings, ExifTags.Base.FocalLength)


class TooManyPixels(Exception):
    """The header declares more than ``MAX_PIXELS``: refused before decoding."""


class Damaged(Exception):
    """The data does not decode to a whole image."""


@dataclass(frozen=True)
class Picture:
    image: Image.Image  # decoded, pixels as stored (before EXIF orientation)
    orientation: int  # EXIF orientation, 1 when absent or unreadable
    camera: bool  # carries camera EXIF (make, model or exposure)
    stored: tuple[int, int] | None = None  # the file's own size, when ``image`` is a draft

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as the merchant sees the picture (after orientation)."""
        width, height = self.stored or self.image.size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


def decode(data: bytes, kind: str, *, draft: int | None = None) -> Picture:
    """The whole image, or ``TooManyPixels`` / ``Damaged``. Pillow's global state is untouched.

    ``draft``: the caller needs no more than this many pixels on the longer side (the checks'
    working copy). A JPEG is then decoded in draft mode: libjpeg scales by 1/2, 1/4 or 1/8 in
    the DCT and gives greyscale, several times faster, and still reads the whole stream (a truncated body is still
    ``Damaged``). The bomb check and the size come from the header either way.
    """
    formats = _FORMATS[kind]
    try:
        # verify() checks structure but not a truncated JPEG body: open again and load().
        with Image.open(io.BytesIO(data), formats=formats) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise TooManyPixels
            img.verify()
        img = Image.open(io.BytesIO(data), formats=formats)
        orientation, camera = _exif(img)
        stored = None
        if draft is not None and kind == "jpg" and max(width, height) > 2 * draft:
            scale = draft / max(width, height)
            # Greyscale straight from the decoder: the checks look at nothing else.
            img.draft("L", (max(1, int(width * scale)), max(1, int(height * scale))))
            stored = (width, height)
        img.load()
    except TooManyPixels:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own limit, hit at open(); the warning arrives as an exception only when
        # warnings are errors (as in tests). The error is not an OSError, hence its own clause.
        raise TooManyPixels from None
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError... on damaged data
        raise Damaged from None
    return Picture(img, orientation, camera, stored if stored != img.size else None)


def _exif(img: Image.Image) -> tuple[int, bool]:
    try:
        exif = img.getexif()
        orientation = int(exif.get(ExifTags.Base.Orientation, 1))
        camera = any(exif.get(tag) for tag in _CAMERA_TAGS)
        if not camera:
            shot = exif.get_ifd(ExifTags.IFD.Exif)
            camera = any(shot.get(tag) for tag in _SHOT_TAGS)
    except Exception:  # broken EXIF does not make the picture unusable
        return 1, False
    return (orientation if orientation in range(1, 9) else 1), bool(camera)


def upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return image.transpose(method) if method is not None else image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB or L, transparent areas on white (a scan's paper)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if "A" in image.mode or image.mode in ("RGBa", "La"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode.startswith("I"):  # 16-bit greyscale PNG: scale to 8 bits
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    return image.convert("RGB")


def grey(picture: Picture, side: int = WORK_SIDE) -> Image.Image:
    """A small upright greyscale copy: longer side at most ``side`` pixels."""
    image = picture.image
    if image.mode in ("P", "1"):
        image = image.convert("RGBA" if "transparency" in image.info else "L")
    factor = max(image.size) // side
    if factor > 1 and image.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        image = image.reduce(factor)  # a box average in whole steps: the fast part
    width, height = image.size
    scale = side / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BOX)
    return upright(_flatten(image).convert("L"), picture.orientation)


def sharpness(image: Image.Image) -> float:
    """Higher is sharper; see ``SHARP_MIN``. ``image`` is a working copy from ``grey``."""
    edges = ImageOps.autocontrast(image, cutoff=1).filter(_LAPLACE)
    width, height = edges.size
    if width < 3 * TILES or height < 3 * TILES:
        return 0.0
    # The filter leaves a one-pixel frame unfiltered: keep it out of the tiles.
    x0, y0, x1, y1 = 1, 1, width - 1, height - 1
    variances = sorted(
        _variance(edges.crop((
            x0 + (x1 - x0) * i // TILES, y0 + (y1 - y0) * j // TILES,
            x0 + (x1 - x0) * (i + 1) // TILES, y0 + (y1 - y0) * (j + 1) // TILES,
        )).histogram())
        for i in range(TILES) for j in range(TILES)
    )
    return round(variances[(len(variances) - 1) * 9 // 10], 1)


_LEVELS = range(256)
_SQUARES = tuple(v * v for v in _LEVELS)


def _variance(histogram: list[int]) -> float:
    """Variance of an 8-bit band from its histogram, as ``ImageStat.Stat(...).var`` gives it.

    The sums run in C (``map``); ImageStat's own loops over the bins in Python took half
    of the sharpness score's time.
    """
    count = sum(histogram)
    total = sum(map(operator.mul, histogram, _LEVELS))
    squares = sum(map(operator.mul, histogram, _SQUARES))
    return (squares - total**2 / count) / count


def dhash(image: Image.Image) -> str:
    """64-bit difference hash of a working copy, as 16 hex digits."""
    pixels = image.resize((9, 8), Image.Resampling.BOX).tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (left < right)
    return f"{bits:016x}"


def distance(a: str, b: str) -> int:
    """Bits in which two hashes differ."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def recompress(data: bytes, kind: str, *, limit: int, min_side: int = 0,
               min_sharpness: float = SHARP_MIN) -> bytes | None:
    """A JPEG under ``limit`` bytes that is upright, keeps its shorter side at least
    ``min_side`` and still scores ``min_sharpness``; ``None`` when no such copy exists.

    The best quality that fits is searched first at full size, then at smaller sizes; at most
    a dozen encodes. EXIF (camera, GPS) is left out of the copy.
    """
    picture = decode(data, kind)
    image = _flatten(upright(picture.image, picture.orientation)).convert("RGB")
    for scale in (1.0, 0.8, 0.64, 0.5):
        size = (round(image.width * scale), round(image.height * scale))
        if min(size) < min_side:
            break
        candidate = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
        encoded = _best_quality(candidate, limit)
        if encoded is not None:
            copy = decode(encoded, "jpg")
            if sharpness(grey(copy)) >= min_sharpness:
                return encoded
    return None


def _best_quality(image: Image.Image, limit: int) -> bytes | None:
    low, high, best = 50, 92, None
    while low <= high:  # at most 6 encodes
        quality = (low + high) // 2
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() < limit:
            best, low = buffer.getvalue(), quality + 1
        else:
            high = quality - 1
    return best
