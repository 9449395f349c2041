"""Reading a 2 MB license scan against decoding it with Pillow alone.

    .venv/bin/python bench/bench_license.py [--scans 20] [--json]

The read is what a merchant waits for after the upload's answer: the scan handed to the reader's
worker process, recognised (RapidOCR, PP-OCRv4) and parsed into the license's fields. The floor
is ``Image.open(...).load()`` of the same bytes: no read can be faster than decoding. Both run in
this process, in turn, on 20 different scans (drawn like the tests' licenses, with paper grain,
as JPEGs of about 2 MB), so a busy moment of the machine weighs on both alike. Also measured: the
event loop's worst delay while a read runs, against its worst delay idle (the read must not hold
up other merchants).

``--json`` prints one JSON object per figure: name, unit, value, baseline_name, baseline, ratio,
target.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.license.ocr import Reader  # noqa: E402
from tests.license import kit  # noqa: E402  (the drawn licenses and the CJK font)

MB = 1024 * 1024
PEOPLE = ["张伟", "王芳", "李娜", "刘洋", "陈静"]
COMPANIES = ["宁波海岸贸易有限公司", "杭州明远电子有限公司", "义乌市恒通进出口有限公司",
             "深圳前海佳美科技有限公司"]


def scan(i: int, target: int = 2 * MB) -> bytes:
    lic = kit.License(name=COMPANIES[i % len(COMPANIES)], person=PEOPLE[i % len(PEOPLE)],
                      code=kit.valid_code(f"9133020{i % 10}MA2CK5RX3"))
    image = kit.draw(lic).resize((3200, 2260), Image.Resampling.LANCZOS)
    grain = Image.effect_noise(image.size, 24 + i).convert("RGB")
    image = Image.blend(image, grain, 0.12)
    best = b""
    for quality in range(96, 40, -2):  # the highest quality that stays under the target
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        best = out.getvalue()
        if len(best) <= target:
            break
    return best


def decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def worst_lag(seconds: float | None, until: asyncio.Future | None = None) -> float:
    """The event loop's worst delay on a 10 ms timer, for ``seconds`` or until ``until``."""
    worst, started = 0.0, time.perf_counter()
    while (until is None and time.perf_counter() - started < seconds) or (
            until is not None and not until.done()):
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return worst


async def run(count: int) -> tuple[list[dict], dict]:
    scans = [scan(i) for i in range(count)]
    reader = Reader(timeout=120)
    try:
        await reader.read(scans[0])  # the worker starts and loads its models once
        decodes, reads, complete = [], [], 0
        for data in scans:
            started = time.perf_counter()
            decode(data)
            decodes.append(time.perf_counter() - started)
            started = time.perf_counter()
            fields = await reader.read(data)
            reads.append(time.perf_counter() - started)
            complete += fields is not None and len(fields.found) == 4
        idle = await worst_lag(2.0)
        task = asyncio.ensure_future(reader.read(scans[1]))
        busy = await worst_lag(None, task)
    finally:
        await reader.close()
    ms = 1000
    figures = [
        {"name": f"license read, median of {count} 2 MB scans", "unit": "ms",
         "value": statistics.median(reads) * ms, "baseline_name": "Pillow decode, median",
         "baseline": statistics.median(decodes) * ms, "target": 5000},
        {"name": f"license read, 95th percentile of {count} scans", "unit": "ms",
         "value": p95(reads) * ms, "baseline_name": "Pillow decode, 95th percentile",
         "baseline": p95(decodes) * ms, "target": 20000},
        {"name": "event loop worst delay during a read", "unit": "ms", "value": busy * ms,
         "baseline_name": "event loop worst delay idle", "baseline": idle * ms, "target": 50},
    ]
    for figure in figures:
        figure["ratio"] = figure["value"] / figure["baseline"] if figure["baseline"] else None
    info = {"scans": count, "bytes": [len(s) for s in scans], "all_fields_read": complete}
    return figures, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON object per figure")
    args = parser.parse_args()
    if kit.cjk_font_path() is None:
        sys.exit("no CJK font to draw the licenses with")
    figures, info = asyncio.run(run(args.scans))
    if args.json:
        for figure in figures:
            print(json.dumps({k: figure[k] for k in ("name", "unit", "value", "baseline_name",
                                                      "baseline", "ratio", "target")},
                             ensure_ascii=False))
        return
    sizes = info["bytes"]
    print(f"{info['scans']} JPEG scans, {min(sizes) / MB:.2f}-{max(sizes) / MB:.2f} MB; "
          f"all four fields read from {info['all_fields_read']}")
    for f in figures:
        ratio = f"{f['ratio']:.1f}x" if f["ratio"] is not None else "-"
        print(f"{f['name']}: {f['value']:.1f} {f['unit']} (target {f['target']}); "
              f"{f['baseline_name']}: {f['baseline']:.1f} {f['unit']}; ratio {ratio}")


if __name__ == "__main__":
    main()
