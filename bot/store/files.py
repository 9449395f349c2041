"""Accepted files on disk, content-addressed: ``<data>/files/ab/abcdef….<kind>``.

The same bytes are stored once; a file is written (atomically, by rename) before the transaction
that records it commits, so a crash leaves at worst an unreferenced file, never a dangling row.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, kind: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{kind}"

    def put(self, sha256: str, kind: str, data: bytes) -> Path:
        target = self.path(sha256, kind)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
