"""Drive ``python -m bot chat --json`` in a subprocess, as another program would."""

from __future__ import annotations

import io
import json
import os
import queue
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30  # seconds for one answer: generous for a loaded CI machine


class Chat:
    def __init__(self, data_dir: Path, user: str = "merchant", lang: str | None = None) -> None:
        self.data_dir = data_dir
        args = [sys.executable, "-m", "bot", "chat", "--json", "--user", user]
        if lang:
            args += ["--lang", lang]
        env = {**os.environ, "BOT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        env.pop("BOT_DATABASE_URL", None)
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.last = self.receive()  # greeting or the current question

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def receive(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("the bot did not answer in time") from None
        if line is None:
            raise AssertionError(f"the bot exited: {self.proc.wait()} {self.proc.stderr.read()}")
        return json.loads(line)

    def send(self, **message: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        self.last = self.receive()
        return self.last

    def text(self, text: str) -> dict[str, Any]:
        return self.send(text=text)

    def choose(self, choice: str) -> dict[str, Any]:
        return self.send(choice=choice)

    def file(self, path: Path) -> dict[str, Any]:
        return self.send(file=str(path))

    def close(self) -> str:
        if self.proc.stdin.closed:
            return ""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=TIMEOUT)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err

    # -- reading answers -------------------------------------------------------------
    @property
    def step(self) -> str | None:
        return self.last["expects"]["step"]

    @property
    def said(self) -> str:
        return "\n".join(r["text"] for r in self.last["replies"])

    @property
    def choices(self) -> list[str]:
        return [c["id"] for r in self.last["replies"] for c in r["choices"]]


def scan(path: Path, size=(1200, 850), fmt="PNG", quality=90) -> Path:
    """A sharp, text-like document scan; each file name gives a visibly different picture
    (the intake refuses the same picture twice, even resized)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rng = random.Random(path.name)
    for _ in range(8):  # light blocks of different layouts tell the pictures apart
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(size[0] // 6, size[0] // 2), rng.randrange(size[1] // 6, size[1] // 2)
        draw.rectangle([x, y, x + w, y + h], fill=(rng.randrange(150, 230),) * 3)
    for y in range(40, size[1] - 40, 28):
        for x in range(40, size[0] - 80, 90):
            draw.rectangle([x, y, x + 60, y + 10], fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=quality)
    path.write_bytes(buffer.getvalue())
    return path
