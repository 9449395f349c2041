"""WeCom callback crypto: signatures, AES-256-CBC envelopes and safe XML parsing.

Pure functions and objects only (no I/O, no clock): the HTTP layer passes ``now`` in.
Plaintext layout: ``random(16) ‖ msg_len (4 bytes, big-endian) ‖ msg ‖ receiveid``, PKCS#7
padded to a multiple of 32 bytes, AES-256-CBC with IV = AESKey[:16].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import defusedxml
import defusedxml.ElementTree as DET
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32  # WeCom pads to 32 bytes, not the AES block size of 16
_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,20}")
_HEADER = 20  # random(16) + msg_len(4)


class WeComCryptoError(Exception):
    """A callback failed authentication or decoding; answer it with an error, never trust it."""


class BadSignature(WeComCryptoError):
    """msg_signature does not match."""


class BadTimestamp(WeComCryptoError):
    """The timestamp is not numeric or too far from now (replay window)."""


class BadPayload(WeComCryptoError):
    """Malformed XML, base64, padding, length field or UTF-8."""


class BadReceiver(WeComCryptoError):
    """The decrypted receiveid is not ours."""


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """SHA-1 hex of the plain-sorted, concatenated parts (WeCom's msg_signature)."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    # surrogatepass: query strings are attacker-controlled; a lone surrogate must not crash us.
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    if not isinstance(encoding_aes_key, str) or not _KEY_RE.fullmatch(encoding_aes_key):
        raise ValueError("EncodingAESKey must be 43 characters of [a-zA-Z0-9]")
    # Not canonical base64 (the last char may carry stray bits), so decode without re-encoding.
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def _parse_xml(data: bytes | str) -> ET.Element:
    """Parse with DTDs, entities and external references refused."""
    try:
        return DET.fromstring(data, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ET.ParseError) as exc:
        raise BadPayload(f"refused XML: {type(exc).__name__}") from None


def _cdata(text: str) -> str:
    if "]]>" in text:
        raise ValueError("value cannot be wrapped in CDATA")
    return f"<![CDATA[{text}]]>"


class WeComCrypto:
    """One WeCom app's callback crypto: token, EncodingAESKey(s) and receiveid (CorpID)."""

    def __init__(self, token: str, encoding_aes_keys: Sequence[str], receive_id: str) -> None:
        if not token:
            raise ValueError("token is required")
        if not receive_id:
            raise ValueError("receive_id is required")
        if isinstance(encoding_aes_keys, str) or not encoding_aes_keys:
            # A bare str is a Sequence[str] too; demand a real list so a typo cannot slip by.
            raise ValueError("encoding_aes_keys must be a non-empty sequence of keys")
        self._token = token
        # Current key first (used to encrypt); older ones only help decrypt during a rotation.
        self._keys = [_aes_key(k) for k in encoding_aes_keys]
        self._receive_id = receive_id.encode("utf-8")

    def verify_signature(
        self, msg_signature: str, timestamp: str, nonce: str, encrypt: str
    ) -> None:
        expected = signature(self._token, timestamp, nonce, encrypt).encode("ascii")
        given = msg_signature.encode("utf-8", "replace")
        if not hmac.compare_digest(expected, given):
            raise BadSignature("msg_signature mismatch")

    def check_timestamp(self, timestamp: str, now: float, max_skew: float = 300) -> None:
        # ASCII digits only: int() would also take "+1", " 1", "1_0" and non-Latin digits.
        if not isinstance(timestamp, str) or not _TIMESTAMP_RE.fullmatch(timestamp):
            raise BadTimestamp("timestamp is not numeric")
        if abs(int(timestamp) - now) > max_skew:
            raise BadTimestamp("timestamp outside the allowed window")

    def decrypt(self, encrypt_b64: str) -> str:
        """Decrypt an authenticated ciphertext; call only after verify_signature."""
        try:
            data = base64.b64decode(encrypt_b64, validate=True)
        except (binascii.Error, ValueError):
            raise BadPayload("invalid base64") from None
        if not data or len(data) % 16:
            raise BadPayload("ciphertext length is not a multiple of the AES block")
        errors: list[WeComCryptoError] = []
        for key in self._keys:
            try:
                return self._open(key, data)
            except WeComCryptoError as exc:
                errors.append(exc)
        # A BadReceiver means some key produced a well-formed plaintext: the more useful error.
        raise next((e for e in errors if isinstance(e, BadReceiver)), errors[0])

    def _open(self, key: bytes, data: bytes) -> str:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise BadPayload("bad padding")
        body = plain[:-pad]
        if len(body) < _HEADER:
            raise BadPayload("plaintext too short")
        msg_len = int.from_bytes(body[16:_HEADER], "big")
        if msg_len > len(body) - _HEADER:
            raise BadPayload("msg_len exceeds plaintext")
        msg = body[_HEADER : _HEADER + msg_len]
        if not hmac.compare_digest(body[_HEADER + msg_len :], self._receive_id):
            raise BadReceiver("receiveid mismatch")
        try:
            return msg.decode("utf-8")
        except UnicodeDecodeError:
            raise BadPayload("message is not UTF-8") from None

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET URL verification: the bare plaintext to answer with."""
        self.verify_signature(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(
        self,
        msg_signature: str,
        timestamp: str,
        nonce: str,
        body: bytes,
        now: float,
        max_body: int = 64 * 1024,
    ) -> str:
        """POST callback: authenticate the outer envelope and return the inner XML string."""
        if len(body) > max_body:
            raise BadPayload("body too large")
        root = _parse_xml(body)
        found = root.findall("Encrypt")
        if root.tag != "xml" or len(found) != 1:
            raise BadPayload("expected <xml> with exactly one <Encrypt>")
        encrypt = found[0].text or ""
        # Cheap checks first; no base64 or AES work on anything unauthenticated.
        self.check_timestamp(timestamp, now)
        self.verify_signature(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def encrypt_raw(self, msg: str, random16: bytes | None = None) -> str:
        """Base64 ciphertext of msg under the current key."""
        rnd = os.urandom(16) if random16 is None else random16
        if len(rnd) != 16:
            raise ValueError("random16 must be 16 bytes")
        raw = msg.encode("utf-8")
        plain = rnd + len(raw).to_bytes(4, "big") + raw + self._receive_id
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        key = self._keys[0]
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def encrypt(self, msg: str, nonce: str, timestamp: str, random16: bytes | None = None) -> str:
        """The passive-reply XML envelope for msg."""
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            raise ValueError("timestamp must be numeric")  # it goes into the XML unquoted
        encrypted = self.encrypt_raw(msg, random16)
        sig = signature(self._token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt>{_cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{_cdata(sig)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{_cdata(nonce)}</Nonce></xml>"
        )


def parse_message(xml_text: str) -> dict[str, str]:
    """Flatten authenticated inner XML into {child tag: text}; nested children are not kept."""
    root = _parse_xml(xml_text)
    if root.tag != "xml":
        raise BadPayload("expected an <xml> root")
    fields: dict[str, str] = {}
    for child in root:
        fields.setdefault(child.tag, child.text or "")  # first wins on duplicate tags
    return fields
