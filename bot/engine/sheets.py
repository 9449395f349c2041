"""Is there anything in this workbook? A streaming look at an ``.xlsx`` with a budget.

openpyxl parses the shared strings and styles of a workbook eagerly, in Python: a 2 MB upload
whose 20 MB of shared strings compress well keeps it busy for half a minute, and its read-only
rows are built whole, so one row of a million empty cells costs gigabytes. Here the XML parts
are streamed through expat in chunks, every element counts against a budget, the first filled
cell ends the scan, and shared strings are read only as far as the cells need them.

Pure: takes an open ``ZipFile`` over bytes in memory.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable, Iterator
from xml.parsers import expat

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CHUNK = 64 * 1024


class Unreadable(Exception):
    """The workbook's structure is broken or its XML is not well-formed (or declares a DTD)."""


class TooMuch(Exception):
    """The element budget ran out before the question was answered."""


class _Stop(Exception):
    """Raised by a handler to end a parse early."""


class Budget:
    def __init__(self, elements: int) -> None:
        self.left = elements

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooMuch


def _parser(start: Callable, end: Callable | None = None,
            text: Callable | None = None) -> expat.XMLParserType:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
        parser.buffer_text = True

    def refuse(*_args) -> None:  # no DTDs, so no entity expansion of any kind
        raise Unreadable("document type declaration")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    return parser


def _chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with zf.open(name) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _parse(zf: zipfile.ZipFile, name: str, parser: expat.XMLParserType) -> None:
    """Feed ``name`` to ``parser`` until the end or until a handler raises ``_Stop``."""
    try:
        for chunk in _chunks(zf, name):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _Stop:
        pass
    except expat.ExpatError as exc:
        raise Unreadable(str(exc)) from None


def _attrs(zf: zipfile.ZipFile, name: str, tag: str, budget: Budget) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    def start(element: str, attributes: dict[str, str]) -> None:
        budget.spend()
        if element.rpartition(" ")[2] == tag:
            found.append(attributes)

    _parse(zf, name, _parser(start))
    return found


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


class SharedStrings:
    """Which shared strings are blank, parsed incrementally up to the index a cell asks for."""

    def __init__(self, zf: zipfile.ZipFile, name: str | None, budget: Budget) -> None:
        self.filled: list[bool] = []
        self._text: list[str] = []
        self._depth_t = 0
        self._done = name is None
        self._budget = budget
        if name is not None:
            self._chunks = _chunks(zf, name)
            self._parser = _parser(self._start, self._end, self._chars)

    def _start(self, element: str, _attributes: dict[str, str]) -> None:
        self._budget.spend()
        local = element.rpartition(" ")[2]
        if local == "si":
            self._text = []
        elif local == "t":
            self._depth_t += 1

    def _end(self, element: str) -> None:
        local = element.rpartition(" ")[2]
        if local == "si":
            self.filled.append(bool("".join(self._text).strip()))
        elif local == "t":
            self._depth_t -= 1

    def _chars(self, data: str) -> None:
        if self._depth_t and len(self._text) < 64:  # a few pieces decide blank or not
            self._text.append(data[:256])

    def is_filled(self, index: int) -> bool:
        try:
            while len(self.filled) <= index and not self._done:
                chunk = next(self._chunks, None)
                if chunk is None:
                    self._parser.Parse(b"", True)
                    self._done = True
                else:
                    self._parser.Parse(chunk, False)
        except expat.ExpatError as exc:
            raise Unreadable(str(exc)) from None
        return index < len(self.filled) and self.filled[index]


class _SheetScan:
    """Finds the first filled cell within the first ``max_rows`` rows of one worksheet."""

    def __init__(self, shared: SharedStrings, max_rows: int, budget: Budget) -> None:
        self.shared = shared
        self.max_rows = max_rows
        self.budget = budget
        self.row = 0
        self.cell_type = ""
        self.collect = False  # inside <v> or an inline string's <t>
        self.text: list[str] = []
        self.found = False

    def start(self, element: str, attributes: dict[str, str]) -> None:
        self.budget.spend()
        local = element.rpartition(" ")[2]
        if local == "row":
            number = attributes.get("r", "")
            self.row = int(number) if number.isdigit() else self.row + 1
            if self.row > self.max_rows:
                raise _Stop
        elif local == "c":
            self.cell_type = attributes.get("t", "n")
            self.text = []
        elif local in ("v", "t"):
            self.collect = True

    def end(self, element: str) -> None:
        local = element.rpartition(" ")[2]
        if local in ("v", "t"):
            self.collect = False
        elif local == "c" and self._filled():
            self.found = True
            raise _Stop

    def chars(self, data: str) -> None:
        if self.collect and len(self.text) < 64:
            self.text.append(data[:256])

    def _filled(self) -> bool:
        value = "".join(self.text).strip()
        if not value:
            return False
        if self.cell_type == "s":
            return value.isdigit() and self.shared.is_filled(int(value))
        return True


def has_values(zf: zipfile.ZipFile, *, max_rows: int, budget: Budget) -> bool:
    """True when a worksheet has a filled cell in its first ``max_rows`` rows.

    Raises ``Unreadable`` for a broken workbook and ``TooMuch`` when the budget runs out.
    """
    names = set(zf.namelist())
    workbook = "xl/workbook.xml"
    rels_name = "xl/_rels/workbook.xml.rels"
    if workbook not in names or rels_name not in names:
        raise Unreadable("no workbook")
    sheets = [a.get(f"{REL} id", "") for a in _attrs(zf, workbook, "sheet", budget)]
    targets, shared_name = {}, None
    for rel in _attrs(zf, rels_name, "Relationship", budget):
        target = _resolve(workbook, rel.get("Target", ""))
        targets[rel.get("Id", "")] = target
        if rel.get("Type", "").endswith("/sharedStrings"):
            shared_name = target
    if shared_name not in names:
        shared_name = None
    shared = SharedStrings(zf, shared_name, budget)
    if not sheets:
        raise Unreadable("no sheets")
    for rel_id in sheets:
        name = targets.get(rel_id)
        if name is None or name not in names:
            raise Unreadable("a sheet is missing")
        scan = _SheetScan(shared, max_rows, budget)
        _parse(zf, name, _parser(scan.start, scan.end, scan.chars))
        if scan.found:
            return True
    return False
