"""The access token several workers share (``bot.store.shared.shared_token``): one fetch
while it is valid, a new one when it expires or was refused, and with BOT_ENCRYPTION_KEY set
it is stored encrypted, so a copy of the database does not carry a usable token."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from dbkit import read

from bot.config import Settings
from bot.store import shared as S
from bot.store.db import Database

KEY = Fernet.generate_key().decode()


class Api:
    """gettoken: a new token each call, valid for 7,200 s."""

    def __init__(self) -> None:
        self.calls = 0

    async def fetch(self) -> tuple[str, float]:
        self.calls += 1
        return f"token-{self.calls}", 7200.0


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.migrate()
    yield database
    await database.close()


def cipher(*keys: str):
    return Settings(_env_file=None, bot_encryption_key=",".join(keys)).cipher


async def test_one_fetch_while_valid_then_a_new_token(db, database_url):
    api = Api()
    first = await S.shared_token(db.engine, "app", 1000.0, api.fetch)
    again = await S.shared_token(db.engine, "app", 8000.0, api.fetch)
    assert first == again == ("token-1", 8200.0) and api.calls == 1
    refused = await S.shared_token(db.engine, "app", 8000.0, api.fetch, stale="token-1")
    assert refused == ("token-2", 15200.0)
    expired = await S.shared_token(db.engine, "app", 16000.0, api.fetch)
    assert expired[0] == "token-3"
    assert read(database_url, "SELECT token FROM shared_tokens") == [("token-3",)]


async def test_with_a_key_the_token_is_stored_encrypted(db, database_url):
    api, sealed = Api(), cipher(KEY)
    token, _ = await S.shared_token(db.engine, "app", 1000.0, api.fetch, cipher=sealed)
    assert token == "token-1"
    ((stored,),) = read(database_url, "SELECT token FROM shared_tokens")
    assert "token-1" not in stored
    assert sealed.decrypt(stored.encode()) == b"token-1"
    # Another worker with the same key reads it: no second fetch.
    assert await S.shared_token(db.engine, "app", 2000.0, api.fetch, cipher=cipher(KEY)) \
        == ("token-1", 8200.0)
    assert api.calls == 1


async def test_a_token_that_does_not_decrypt_is_fetched_again(db):
    api = Api()
    await S.shared_token(db.engine, "app", 1000.0, api.fetch)  # stored before the key was set
    token, _ = await S.shared_token(db.engine, "app", 1001.0, api.fetch, cipher=cipher(KEY))
    assert token == "token-2"
    # A key removed from BOT_ENCRYPTION_KEY: its token is a cache miss, not an error.
    other = Fernet.generate_key().decode()
    token, _ = await S.shared_token(db.engine, "app", 1002.0, api.fetch, cipher=cipher(other))
    assert token == "token-3"
    # Rotation: the new key first, the old one kept, and the stored token still serves.
    token, _ = await S.shared_token(db.engine, "app", 1003.0, api.fetch,
                                    cipher=cipher(Fernet.generate_key().decode(), other))
    assert token == "token-3" and api.calls == 3


def test_no_key_no_cipher():
    assert Settings(_env_file=None).cipher is None
