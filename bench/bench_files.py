"""Checking an uploaded 2 MB JPEG against decoding it with Pillow alone.

    .venv/bin/python bench/bench_files.py [--rounds 15] [--megapixels 12] [--json]

The check is everything an upload of a business license goes through: type by content, size,
a bomb check from the header, verify(), a draft-mode decode to greyscale (scaled in the JPEG's
DCT), EXIF, the greyscale working copy, the blur score and the perceptual hash. The floor is ``Image.open(...).load()``: no check can decode
a JPEG faster than that. Both run on the same bytes in the same process, one after the other.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import emit, figure  # noqa: E402
from bot.engine.files import FileRule, check_file  # noqa: E402

MB = 1024 * 1024
LICENSE = FileRule(accept=("jpg", "png"), max_bytes=10 * MB, recommend_bytes=2 * MB,
                   min_pixels=600, sharp=True)


def photo_of_a_license(megapixels: float, target: int = 2 * MB) -> bytes:
    """A phone photo of a document: print, a seal, paper grain; a JPEG of about ``target``."""
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = width * 3 // 4
    rng = random.Random(1)
    image = Image.new("RGB", (width, height), (238, 236, 228))
    draw = ImageDraw.Draw(image)
    unit = width / 1200
    for y in range(int(120 * unit), height - int(60 * unit), int(30 * unit)):
        x = int(60 * unit)
        while x < width * 0.85:
            w = int(rng.randint(10, 60) * unit)
            draw.rectangle([x, y, x + w, y + int(9 * unit)], fill=(25, 25, 30))
            x += w + int(8 * unit)
    draw.ellipse([width * 0.7, height * 0.6, width * 0.85, height * 0.8],
                 outline=(200, 30, 30), width=int(6 * unit))
    grain = Image.effect_noise(image.size, 20).convert("RGB")
    image = Image.blend(image, grain, 0.22).filter(ImageFilter.GaussianBlur(0.4))
    best = b""
    for quality in range(95, 40, -1):  # the highest quality that stays under the target
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        best = buffer.getvalue()
        if len(best) <= target:
            break
    return best


def interleaved(first, second, rounds: int) -> tuple[list[float], list[float]]:
    """Run the two in turn, ``rounds`` times each, so a busy moment weighs on both alike."""
    first(), second()  # warm up
    a, b = [], []
    for _ in range(rounds):
        for action, samples in ((first, a), (second, b)):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--megapixels", type=float, default=12)
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args()
    data = photo_of_a_license(args.megapixels)

    def decode() -> None:
        with Image.open(io.BytesIO(data)) as img:
            img.load()

    def check() -> None:
        check_file(data, "license.jpg", LICENSE)

    checked = check_file(data, "license.jpg", LICENSE)
    floors, checks = interleaved(decode, check, args.rounds)
    floor, ours = statistics.median(floors), statistics.median(checks)
    if args.json:
        emit([figure("license_check", "ms", ours * 1000, "Pillow full decode", floor * 1000,
                     target=0.6)])
        return
    print(f"JPEG: {len(data) / MB:.2f} MB, {checked.width}x{checked.height}, "
          f"sharpness {checked.sharpness}")
    print(f"Pillow decode alone: {floor * 1000:7.1f} ms (median of {args.rounds})")
    print(f"full upload check:   {ours * 1000:7.1f} ms")
    print(f"ratio check/decode:  {ours / floor:7.2f}x")


if __name__ == "__main__":
    main()
