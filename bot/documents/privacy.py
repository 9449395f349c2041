"""Personal data (PIPL): ID numbers encrypted at rest, a merchant's data erased on request.

``Sealer`` encrypts the number of every ID card or passport answer on its way into
``merchants.state`` and decrypts it on the way out (Fernet: AES-128-CBC with HMAC-SHA256). Keys
come from ``BOT_ENCRYPTION_KEY``, several separated by commas: the first encrypts, all decrypt,
so a key is rotated by putting the new one first. A number sealed under a key that is gone
comes back as its masked form, never as an error in the merchant's chat.

``erase`` deletes every row that points at a merchant, in any table (read from the database
itself, so tables added later are covered), and returns the stored files to delete once the
transaction has committed. The ``merchants`` row stays, emptied: the service's optimistic
version check writes to it, and it holds no more than the chat's address and language.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy.ext.asyncio import AsyncSession

from bot.engine.validators import mask_id
from bot.store import documents as stored
from bot.store.files import FileStore
from bot.store.models import Merchant

log = logging.getLogger(__name__)
ID_KINDS = ("id_card", "passport")


def _is_id(value: Any) -> bool:
    return isinstance(value, dict) and value.get("kind") in ID_KINDS


class Sealer:
    def __init__(self, cipher: MultiFernet) -> None:
        self._fernet = cipher  # ``Settings.cipher``

    def seal(self, state: dict) -> dict:
        answers = state.get("answers") or {}
        if not any(_is_id(v) and "number" in v for v in answers.values()):
            return state
        sealed = {}
        for key, value in answers.items():
            if _is_id(value) and "number" in value:
                number = str(value["number"])
                value = {"kind": value["kind"], "masked": mask_id(number),
                         "sealed": self._fernet.encrypt(number.encode()).decode()}
            sealed[key] = value
        return {**state, "answers": sealed}

    def unseal(self, state: dict) -> dict:
        answers = state.get("answers") or {}
        if not any(_is_id(v) and "sealed" in v for v in answers.values()):
            return state
        opened = {}
        for key, value in answers.items():
            if _is_id(value) and "sealed" in value:
                try:
                    number = self._fernet.decrypt(value["sealed"].encode()).decode()
                except (InvalidToken, ValueError, AttributeError):
                    log.warning("an ID number could not be decrypted (key changed?); "
                                "it is shown masked")
                    number = value.get("masked", "")
                value = {"kind": value["kind"], "number": number}
            opened[key] = value
        return {**state, "answers": opened}


async def erase(session: AsyncSession, merchant: Merchant, files: FileStore) -> list:
    """Delete every row that belongs to ``merchant`` except its own (the caller empties the
    state the service writes back).

    Returns the paths and storage names of files to remove after the commit (a file shared
    with another merchant by content address is kept for them).
    """
    named, unshared = await stored.erase(session, merchant.id)
    return [*named, *(files.path(row.sha256, row.kind) for row in unshared)]


def remove_files(files: FileStore, doomed: Iterable) -> None:
    for item in doomed:
        if isinstance(item, str):
            files.remove(item)
        else:
            item.unlink(missing_ok=True)
