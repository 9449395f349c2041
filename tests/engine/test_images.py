"""Pixels: bounded decoding, orientation, camera metadata, the blur score and its threshold,
the perceptual hash, and the recompressed copy. Every picture is generated here."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from PIL import Image, ImageEnhance, ImageStat

from bot.engine import images
from tests.documents import samples

MB = 1024 * 1024
SIZES = [(1200, 850), (2400, 1700), (850, 1200)]
LAYOUTS = ["dense", "sparse", "desk"]
CONTRASTS = [(20, 245), (110, 200)]  # black on white, and grey print on grey paper


def score(data: bytes, kind: str = "jpg") -> float:
    return images.sharpness(images.grey(images.decode(data, kind)))


# -- the threshold, calibrated ----------------------------------------------------------------


@pytest.fixture(scope="module")
def calibration():
    """Scores of every generated page: sharp, slightly soft (1 px), and blurred until the small
    print is gone (2 px and more on a page 1200 pixels wide)."""
    scores: dict[float, list[float]] = {0: [], 1: [], 2: [], 3: []}
    for size in SIZES:
        for layout in LAYOUTS:
            for ink, paper in CONTRASTS:
                page = samples.page(size, ink=ink, paper=paper, layout=layout)
                for radius, found in scores.items():
                    image = samples.blurred(page, radius) if radius else page
                    found.append(score(samples.encode(image)))
    return scores


def test_every_sharp_page_clears_the_threshold_with_room(calibration):
    assert min(calibration[0]) > 1.5 * images.SHARP_MIN


def test_a_page_blurred_until_the_small_print_goes_is_below(calibration):
    assert max(calibration[2]) < images.SHARP_MIN
    assert max(calibration[3]) < images.SHARP_MIN / 2


def test_the_score_falls_as_the_blur_grows(calibration):
    medians = [sorted(v)[len(v) // 2] for _, v in sorted(calibration.items())]
    assert medians == sorted(medians, reverse=True)


def test_a_blank_page_has_nothing_sharp():
    assert score(samples.encode(Image.new("RGB", (1200, 850), "white"))) == 0


def test_tile_variance_is_what_pillow_computes():
    page = Image.open(io.BytesIO(samples.scan(fmt="JPEG"))).convert("L")
    for box in ((0, 0, 40, 30), (100, 80, 260, 200), (0, 0) + page.size):
        tile = page.crop(box)
        assert images._variance(tile.histogram()) == ImageStat.Stat(tile).var[0]


def test_the_score_does_not_depend_on_the_resolution():
    low = score(samples.scan((800, 566), fmt="JPEG"))
    high = score(samples.scan((3200, 2264), fmt="JPEG"))
    assert 0.5 < low / high < 2


def test_png_and_jpeg_of_one_page_score_alike():
    png, jpeg = score(samples.scan(fmt="PNG"), "png"), score(samples.scan(fmt="JPEG"))
    assert abs(png - jpeg) / png < 0.25


def test_transparency_counts_as_paper():
    page = samples.page().convert("RGBA")
    page.putalpha(255)
    assert score(samples.encode(page, "PNG"), "png") > images.SHARP_MIN


# -- decoding within bounds ---------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header_in_bounded_memory():
    bomb = samples.encode(Image.new("1", (12_000, 12_000)), "PNG")  # 144 megapixels, 20 KB
    assert len(bomb) < 50_000
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(images.TooManyPixels):
        images.decode(bomb, "png")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * MB and time.monotonic() - started < 10  # refused, not decoded


def test_a_truncated_jpeg_is_damaged():
    data = samples.photo()
    with pytest.raises(images.Damaged):
        images.decode(data[: len(data) * 2 // 3], "jpg")


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_turns_the_picture_upright(orientation):
    picture = images.decode(samples.photo(orientation=orientation), "jpg")
    assert picture.size == (1200, 1600) and picture.image.size == (1600, 1200)
    turned = images.upright(picture.image, orientation)
    assert turned.size == (1200, 1600)
    # The same scene taken upright has the same hash as the one turned by its EXIF tag.
    rotated = samples.scene(1).transpose(Image.Transpose.ROTATE_270 if orientation == 6
                                         else Image.Transpose.ROTATE_90)
    upright = images.decode(samples.encode(rotated), "jpg")
    assert images.distance(images.dhash(images.grey(picture)),
                           images.dhash(images.grey(upright))) <= images.NEAR_BITS


def test_camera_metadata_is_noticed():
    assert images.decode(samples.photo(camera=True), "jpg").camera
    assert not images.decode(samples.photo(camera=False), "jpg").camera
    assert not images.decode(samples.screenshot_png(), "png").camera


def test_unusual_pixel_formats_are_measured():
    for mode in ("L", "LA", "P", "I;16", "CMYK", "1"):
        image = samples.page().convert("RGB" if mode in ("I;16",) else mode)
        if mode == "I;16":
            image = image.convert("L").convert("I;16")
        fmt = "JPEG" if mode == "CMYK" else "PNG"
        kind = "jpg" if fmt == "JPEG" else "png"
        picture = images.decode(samples.encode(image, fmt), kind)
        assert images.grey(picture).mode == "L"
        assert images.sharpness(images.grey(picture)) >= 0


# -- the same picture twice ---------------------------------------------------------------------


def dhash_of(data: bytes, kind: str = "jpg") -> str:
    return images.dhash(images.grey(images.decode(data, kind)))


def test_copies_of_one_photo_hash_alike():
    scene = samples.scene(3)
    original = dhash_of(samples.encode(scene, quality=92))
    copies = [samples.encode(scene, quality=40),
              samples.encode(scene.resize((800, 600))),
              samples.encode(ImageEnhance.Brightness(scene).enhance(1.15)),
              samples.encode(scene.crop((20, 15, 1580, 1185))),
              samples.encode(scene, "PNG")]
    for copy in copies:
        kind = "png" if copy.startswith(b"\x89PNG") else "jpg"
        assert images.distance(original, dhash_of(copy, kind)) <= images.NEAR_BITS


def test_different_photos_hash_apart():
    hashes = [dhash_of(samples.photo(seed)) for seed in range(12)]
    distances = [images.distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:]]
    assert min(distances) > 2 * images.NEAR_BITS


def test_hash_is_sixteen_hex_digits():
    value = dhash_of(samples.photo())
    assert len(value) == 16 and int(value, 16) >= 0
    assert images.distance(value, value) == 0


# -- a smaller copy -------------------------------------------------------------------------------


def test_a_large_scan_gets_a_sharp_copy_under_the_limit():
    big = samples.large_scan()
    copy = images.recompress(big, "jpg", limit=2 * MB, min_side=600)
    assert copy is not None and len(copy) < 2 * MB
    picture = images.decode(copy, "jpg")
    assert images.sharpness(images.grey(picture)) >= images.SHARP_MIN
    assert min(picture.size) >= 600 and not picture.camera


def test_the_copy_is_upright_and_loses_its_exif():
    data = samples.photo(orientation=6, size=(2400, 1800), quality=97)
    copy = images.recompress(data, "jpg", limit=len(data) // 2, min_sharpness=0)
    picture = images.decode(copy, "jpg")
    assert picture.orientation == 1 and picture.size == (1800, 2400)
    assert not Image.open(io.BytesIO(copy)).getexif()


def test_a_png_with_transparency_becomes_a_jpeg_on_white():
    page = samples.page((2400, 1700)).convert("RGBA")
    data = samples.encode(page, "PNG")
    copy = images.recompress(data, "png", limit=len(data) // 3)
    assert copy is not None and copy.startswith(b"\xff\xd8")


def test_no_copy_when_the_limit_cannot_be_met_sharply():
    blurry = samples.scan((2000, 1414), blur=3, fmt="PNG")
    assert images.recompress(blurry, "png", limit=10 * MB) is None  # blurred from the start
    sharp = samples.scan((1200, 850), fmt="PNG")
    assert images.recompress(sharp, "png", limit=2_000, min_side=600) is None  # too small
