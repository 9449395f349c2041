"""Core statements compiled once and run on the driver's own cursor.

The hot path's statements are built from the models' tables (the schema's truth stays there
and in the migrations), compiled once for the dialect, and executed with the driver's
``executemany``: one C loop over the rows of a whole batch instead of SQLAlchemy's execution
machinery per statement, which costs more than SQLite's own work for these small rows. Values go
through the columns' own bind processors (JSON, DateTime), so a row written here reads back
exactly as one written through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine


class Prepared:
    """One statement for one dialect with positional parameters (SQLite's ``?``)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect,
                 keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(keys) if keys is not None else None)
        if not dialect.positional or compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: a positional paramstyle is needed")
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup)
        self._processors: list[Callable[[Any], Any] | None] = [
            _processor(compiled.binds[name].type.dialect_impl(dialect), dialect)
            for name in self.names]

        # Only the columns with a processor (JSON, times) are touched after the lookup.
        self._processed = [(i, p) for i, p in enumerate(self._processors) if p is not None]

    def row(self, values: Mapping[str, Any]) -> list[Any]:
        """The statement's parameters from ``values`` (by name), processed for the driver."""
        row = [values[name] for name in self.names]
        for i, process in self._processed:
            row[i] = process(row[i])
        return row

    def rows(self, many: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
        return [self.row(values) for values in many]


def _processor(impl: TypeEngine, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; for SQLite's DATETIME in its default storage format, the
    same text from ``isoformat`` (a third of the cost of the format SQLAlchemy fills in)."""
    process = impl.bind_processor(dialect)
    if (process is None or not isinstance(impl, sqlite.DATETIME)
            or impl._storage_format != sqlite.DATETIME._storage_format):
        return process

    def stored(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return process(value)

    return stored
