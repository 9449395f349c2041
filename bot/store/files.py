"""Accepted files on disk under ``<data>/files``, each under a random name.

``store`` writes a file under a name drawn at random (``ab/<32 hex>.<kind>``) and returns that
name, which the document's row keeps: nothing about a file's content or its merchant can be read
or guessed from its name, and erasing one merchant's file never touches another's copy of the
same bytes. The directory is private to the bot (mode 0700) and is served by nothing.

A file is written (atomically, by rename) before the transaction that records it commits, so a
crash leaves at worst an unreferenced file (``orphans`` finds them), never a dangling row.
Rows from before random names have no storage name; their files sit at the content-addressed
``path(sha256, kind)``.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{2,4}$")


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    # -- random names --------------------------------------------------------------------
    def store(self, kind: str, data: bytes) -> str:
        """Write ``data`` under a new random name; returns the name to keep in the row."""
        name = self.new_name(kind)
        self._write(self.root / name, data)
        return name

    @staticmethod
    def new_name(kind: str) -> str:
        token = secrets.token_hex(16)
        return f"{token[:2]}/{token}.{kind}"

    def locate(self, name: str) -> Path:
        """The path of a stored name; refuses anything that is not one of ours."""
        return self.path_of(name)

    def remove(self, name: str) -> None:
        self.path_of(name).unlink(missing_ok=True)

    def path_of(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError("not a storage name")
        return self.root / name

    def names(self) -> Iterator[tuple[str, float]]:
        """Every stored name with its modification time (content-addressed files excluded)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/*.*"):
            name = f"{path.parent.name}/{path.name}"
            if _NAME.match(name):
                yield name, path.stat().st_mtime

    def orphans(self, referenced: Iterable[str], older_than: float) -> list[str]:
        """Stored names no row refers to, written more than ``older_than`` seconds ago (a
        younger one may belong to a transaction that has not committed yet)."""
        keep, cutoff = set(referenced), time.time() - older_than
        return [name for name, mtime in self.names() if name not in keep and mtime < cutoff]

    def close(self) -> None:
        """Nothing to release on disk (the database store closes its connections)."""

    # -- content-addressed (rows written before random names) -----------------------------
    def path(self, sha256: str, kind: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{kind}"

    def put(self, sha256: str, kind: str, data: bytes) -> Path:
        target = self.path(sha256, kind)
        if not target.exists():
            self._write(target, data)
        return target

    # -- writing ---------------------------------------------------------------------------
    def _write(self, target: Path, data: bytes) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
