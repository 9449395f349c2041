"""The materials package: every accepted file of a merchant in one ZIP, named for upload.

Names come from ``bot.engine.intake.upload_names`` (``01_营业执照.png``, ``生产线_1.jpg``); the
ZIP holds exactly those files, byte for byte as accepted, and is streamed to disk file by file,
so a package of many large photos never sits in memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.engine.intake import upload_names
from bot.engine.model import DocumentRef
from bot.store.files import FileStore
from bot.store.models import Document

# Already compressed: storing is as small and much faster than deflating again.
_STORED = {"jpg", "png", "pdf", "xlsx"}


@dataclass(frozen=True)
class Entry:
    ref: DocumentRef
    name: str  # in the ZIP
    path: Path | None  # None: the file is no longer on disk


def ref_of(row: Document) -> DocumentRef:
    return DocumentRef(row.sha256, row.category, row.name, row.kind, row.size, row.phash)


def stored_path(files: FileStore, row: Document) -> Path:
    return files.locate(row.storage) if row.storage else files.path(row.sha256, row.kind)


def entries(files: FileStore, rows: Sequence[Document]) -> list[Entry]:
    """One entry per document row (in the rows' order), with its name in the package."""
    refs = [ref_of(row) for row in rows]
    result = []
    for row, ref, name in zip(rows, refs, upload_names(refs), strict=True):
        path = stored_path(files, row)
        result.append(Entry(ref, name, path if path.is_file() else None))
    return result


def write_zip(target: Path, items: Sequence[Entry]) -> list[str]:
    """Write the files that are on disk into ``target``; returns the names written, sorted."""
    present = sorted((e for e in items if e.path is not None), key=lambda e: e.name)
    with zipfile.ZipFile(target, "w") as zf:
        for entry in present:
            method = zipfile.ZIP_STORED if entry.ref.kind in _STORED else zipfile.ZIP_DEFLATED
            zf.write(entry.path, entry.name, compress_type=method)
    return [e.name for e in present]
