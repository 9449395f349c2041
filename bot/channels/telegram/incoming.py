"""What a Telegram update means for the guide, read from aiogram's ``Update`` (pure).

python-telegram-bot updates are converted to aiogram's type first (same Bot API JSON), so both
adapters share this reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import Update

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


def read_update(update: Update) -> Incoming:
    """Private chats only: a certification guide handles personal numbers, never in groups."""
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        chat = getattr(message, "chat", None)
        if chat is None or chat.type != "private":
            return Incoming(update.update_id, IGNORE, callback_id=query.id)
        return Incoming(
            update.update_id, CHOICE, str(query.from_user.id), chat.id, message.message_id,
            query.from_user.language_code, callback_id=query.id, callback_data=query.data,
        )
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return Incoming(update.update_id, IGNORE)
    base = {
        "update_id": update.update_id, "user_key": str(message.from_user.id),
        "chat_id": message.chat.id, "message_id": message.message_id,
        "language": message.from_user.language_code, "media_group_id": message.media_group_id,
    }
    if message.text is not None:
        return Incoming(kind=TEXT, text=message.text, **base)
    if message.document is not None:
        doc = message.document
        name = doc.file_name or f"document_{message.message_id}"
        return Incoming(kind=FILE, file=FileRef(doc.file_id, name, doc.file_size, False), **base)
    if message.photo:
        photo = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        ref = FileRef(photo.file_id, f"photo_{message.message_id}.jpg", photo.file_size, True)
        return Incoming(kind=FILE, file=ref, **base)
    return Incoming(kind=OTHER, **base)
