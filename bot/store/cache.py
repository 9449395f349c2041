"""The per-merchant state cache. An entry is the state at a version; the version guard on the
write (``merchants.advance``) notices when another process moved the row on, and the service
then drops the entry and retries the turn on fresh state. Bounded: least recently used go."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bot.engine.model import State


@dataclass
class Cached:
    id: int | None  # None: the merchant is not stored yet
    version: int
    timezone: str
    state: State  # unsealed; never mutated in place (the engine works on a copy)


class StateCache:
    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], Cached] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Cached | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[str, str], item: Cached) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, key: tuple[str, str]) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()
