"""Signed, expiring upload tokens: ``base64url(payload).base64url(HMAC-SHA256)``.

A token names the channel, the merchant, the question (``flow.step``), an expiry and a random
nonce. Nothing is stored when a token is made; the nonce becomes the update id of the upload, so
the service records its one use in the same transaction as the stored file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

_DOMAIN = b"upload-page-v1."  # a MAC made for another purpose never validates here
MAX_TOKEN = 1024


class BadToken(Exception):
    """The token is forged, damaged or expired (``expired`` tells which)."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class Grant:
    channel: str
    user_key: str
    step: str
    expires: int
    nonce: str

    @property
    def update_id(self) -> str:
        return f"upload:{self.nonce}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, _DOMAIN + body.encode("ascii"), hashlib.sha256).digest()


def issue(secret: bytes, channel: str, user_key: str, step: str, now: float, ttl: int) -> str:
    payload = {"c": channel, "u": user_key, "s": step, "x": int(now) + ttl,
               "n": secrets.token_urlsafe(12)}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"{body}.{_b64(_mac(secret, body))}"


def check(secret: bytes, token: str, now: float) -> Grant:
    """The grant a token carries, or ``BadToken``; the MAC is checked before any decoding."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise BadToken("malformed")
    body, mac = token.split(".")
    try:
        body.encode("ascii")
        given = _unb64(mac)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise BadToken("malformed") from None
    if not hmac.compare_digest(given, _mac(secret, body)):
        raise BadToken("bad signature")
    try:
        data = json.loads(_unb64(body))
        grant = Grant(str(data["c"]), str(data["u"]), str(data["s"]), int(data["x"]),
                      str(data["n"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadToken("malformed") from None
    if now > grant.expires:
        raise BadToken("expired", expired=True)
    return grant
