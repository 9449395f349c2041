"""Files the bot hands over (a smaller scan, the package ZIP, the checklist PDF).

They are written under ``<data>/outbox/m<merchant id>/`` with random names, beside the stored
files and like them served by nothing; a channel reads the path of the ``Attachment`` and sends
the file under its ``name``. ``expire`` removes what is older than a day, ``clear`` everything
of one merchant.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from bot.engine.model import Attachment

KEEP_SECONDS = 24 * 3600


class Outbox:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, merchant_id: int) -> Path:
        return self.root / f"m{int(merchant_id)}"

    def reserve(self, merchant_id: int, name: str) -> Path:
        """A new random path for a file to hand over as ``name`` (written by the caller)."""
        folder = self.folder(merchant_id)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return folder / (secrets.token_hex(12) + Path(name).suffix.lower())

    def put(self, merchant_id: int, name: str, data: bytes) -> Attachment:
        target = self.reserve(merchant_id, name)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".out-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Attachment(str(target.resolve()), name)

    def clear(self, merchant_id: int) -> None:
        shutil.rmtree(self.folder(merchant_id), ignore_errors=True)

    def expire(self, older_than: float = KEEP_SECONDS, now: float | None = None) -> int:
        """Remove handed-over files older than ``older_than`` seconds; returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - older_than
        removed = 0
        for path in self.root.glob("m*/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        for folder in self.root.glob("m*"):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed
