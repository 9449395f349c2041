"""Text recognition of a license scan in a separate process, bounded in time.

RapidOCR (PP-OCRv4 models shipped inside the ``rapidocr-onnxruntime`` wheel: nothing is
downloaded, ever) runs in a spawned worker process, so the event loop and the GIL stay free for
other merchants. A read that overruns its bound terminates the worker; the next read starts a
fresh one. A page whose text runs top to bottom is tried turned by 90° either way (phones
photograph licenses sideways), within the same bound; one upside down is read line by line
upright by the recogniser's own direction classifier.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import os
import time
from multiprocessing.pool import Pool

from bot.engine.license import LicenseFields, Line, looks_upright, parse_license

log = logging.getLogger(__name__)

MAX_SIDE = 1600  # pixels: larger scans are shrunk first (text stays legible, work is bounded)
NICENESS = 10  # the worker yields the CPU to the conversations' process

_engine = None  # the worker process's recogniser, built once per process


def _start_worker(niceness: int = 0) -> None:
    global _engine
    from rapidocr_onnxruntime import RapidOCR

    if niceness:
        os.nice(niceness)
    _engine = RapidOCR()


def _recognise(image) -> list[Line]:
    import numpy as np

    found, _ = _engine(np.asarray(image)[:, :, ::-1])  # RGB -> the BGR OpenCV order it expects
    lines = []
    for corners, text, score in found or ():
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        lines.append(Line(text, (min(xs), min(ys), max(xs), max(ys)), float(score)))
    return lines


def read_license(data: bytes, deadline: float) -> LicenseFields:
    """In the worker: recognise ``data`` (JPG/PNG bytes) and parse it; turned pages are tried
    while ``deadline`` (``time.time()``) allows."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    lines = _recognise(image)
    best = parse_license(lines)
    # Upright boxes that give no fields mean an unreadable page, not a turned one.
    turns = (90, 270) if lines and not looks_upright(lines) else ()
    for angle in turns:  # both ways: the wrong one reads a field or two, upside down
        if len(best.found) == 4 or time.time() > deadline:
            break
        fields = parse_license(_recognise(image.rotate(angle, expand=True)))
        if len(fields.found) > len(best.found):
            best = fields
    return best


class Reader:
    """Reads license scans one (or ``workers``) at a time in worker processes."""

    def __init__(self, *, timeout: float = 20.0, workers: int = 1) -> None:
        self.timeout = timeout
        self.workers = workers
        self._pool: Pool | None = None
        self._slots = asyncio.Semaphore(workers)

    def _ensure_pool(self) -> Pool:
        if self._pool is None:
            # spawn: a forked copy of a process running an event loop and threads is unsafe
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, initializer=_start_worker,
                                      initargs=(NICENESS,))
        return self._pool

    async def read(self, data: bytes) -> LicenseFields | None:
        """The license's fields, or None when the read failed or overran its bound."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            done: asyncio.Future = loop.create_future()

            def settle(outcome, failed: bool = False) -> None:
                if not done.done():
                    (done.set_exception if failed else done.set_result)(outcome)

            pool = self._ensure_pool()
            pool.apply_async(
                read_license, (data, time.time() + self.timeout * 0.6),
                callback=lambda r: loop.call_soon_threadsafe(settle, r),
                error_callback=lambda e: loop.call_soon_threadsafe(settle, e, True),
            )
            try:
                return await asyncio.wait_for(done, self.timeout)
            except TimeoutError:
                log.warning("license read overran %.0f s; worker restarted", self.timeout)
                await self._terminate()
            except Exception as exc:  # an undecodable image, a crashed worker: not fatal
                log.warning("license read failed: %s", type(exc).__name__)
            return None

    async def _terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            await asyncio.to_thread(pool.join)

    async def warm(self) -> None:
        """Start the worker now (model loading takes a moment) rather than at the first scan."""
        self._ensure_pool()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            pool.terminate()
            await asyncio.to_thread(pool.join)
