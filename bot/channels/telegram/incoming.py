"""What a Telegram update means for the guide, read from the Bot API's JSON (pure).

Every library hands the channel the same thing: the update as Telegram sent it, a ``dict``
(aiogram's and the plain transport's polling and the webhook read it from the body;
python-telegram-bot's ``Update.to_dict()`` gives it back). Only the few fields the guide uses are
read; no library's model is built for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT, CHOICE, FILE, OTHER, IGNORE = "text", "choice", "file", "other", "ignore"


@dataclass(frozen=True)
class FileRef:
    file_id: str
    name: str
    size: int | None
    compressed: bool  # a photo: Telegram recompressed it


@dataclass(frozen=True)
class Incoming:
    update_id: int
    kind: str
    user_key: str = ""
    chat_id: int = 0
    message_id: int = 0
    language: str | None = None
    text: str | None = None
    callback_id: str | None = None
    callback_data: str | None = None
    file: FileRef | None = None
    media_group_id: str | None = None

    @property
    def update_key(self) -> str:
        return str(self.update_id)


def update_id(data: Any) -> int:
    """The id of a Bot API update; ValueError when ``data`` is no update."""
    if not isinstance(data, Mapping) or type(data.get("update_id")) is not int:
        raise ValueError("not a Telegram update")
    return data["update_id"]


def _private(message: Any) -> bool:
    chat = message.get("chat") if isinstance(message, Mapping) else None
    return isinstance(chat, Mapping) and chat.get("type") == "private" and "id" in chat


def read_update(data: Mapping[str, Any]) -> Incoming:
    """Private chats only: a certification guide handles personal numbers, never in groups."""
    uid = update_id(data)
    query = data.get("callback_query")
    if isinstance(query, Mapping):
        message = query.get("message")
        sender = query.get("from") or {}
        if not _private(message) or "id" not in sender:
            return Incoming(uid, IGNORE, callback_id=query.get("id"))
        return Incoming(
            uid, CHOICE, str(sender["id"]), message["chat"]["id"], message.get("message_id", 0),
            sender.get("language_code"), callback_id=query.get("id"),
            callback_data=query.get("data"),
        )
    message = data.get("message")
    sender = message.get("from") if isinstance(message, Mapping) else None
    if not _private(message) or not isinstance(sender, Mapping) or "id" not in sender:
        return Incoming(uid, IGNORE)
    message_id = message.get("message_id", 0)
    base = {
        "update_id": uid, "user_key": str(sender["id"]), "chat_id": message["chat"]["id"],
        "message_id": message_id, "language": sender.get("language_code"),
        "media_group_id": message.get("media_group_id"),
    }
    if isinstance(message.get("text"), str):
        return Incoming(kind=TEXT, text=message["text"], **base)
    doc = message.get("document")
    if isinstance(doc, Mapping) and "file_id" in doc:
        name = doc.get("file_name") or f"document_{message_id}"
        ref = FileRef(doc["file_id"], name, doc.get("file_size"), False)
        return Incoming(kind=FILE, file=ref, **base)
    sizes = [p for p in message.get("photo") or () if isinstance(p, Mapping) and "file_id" in p]
    if sizes:
        photo = max(sizes, key=lambda p: (p.get("width", 0) * p.get("height", 0),
                                          p.get("file_size") or 0))
        ref = FileRef(photo["file_id"], f"photo_{message_id}.jpg", photo.get("file_size"), True)
        return Incoming(kind=FILE, file=ref, **base)
    return Incoming(kind=OTHER, **base)
