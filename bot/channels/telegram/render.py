"""Pure pieces of the Telegram adapter: message splitting, callback data, command lists.

Nothing here talks to Telegram; the transports (aiogram, python-telegram-bot) call these.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.engine.messages import Msg
from bot.engine.model import Flow

MESSAGE_LIMIT = 4096  # Bot API: characters of a message text, counted in UTF-16 code units
CALLBACK_LIMIT = 64  # Bot API: bytes of callback_data
TOKEN_LEN = 6
NO_STEP = "-"
UNKNOWN_STEP = "?"  # a "flow.step" no question has: the engine answers "already answered"
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.:] )")

# One line for each engine command in the Telegram command menu (setMyCommands).
COMMAND_HELP: dict[str, Msg] = {
    "start": Msg("Main menu"),
    "back": Msg("Previous question, to change an answer"),
    "cancel": Msg("Stop this process (answers are kept)"),
    "status": Msg("Where you are and what is missing"),
    "lang": Msg("中文 ⇄ English"),
    "help": Msg("All commands"),
}


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""  # callback_data, at most 64 bytes
    web_app: str | None = None  # set: the button opens this https page as a Mini App


def inline_button(button: Button) -> dict[str, object]:
    """The Bot API's InlineKeyboardButton for ``button``."""
    if button.web_app:
        return {"text": button.label, "web_app": {"url": button.web_app}}
    return {"text": button.label, "callback_data": button.data}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` UTF-16 units, at paragraph boundaries
    where possible, then at lines, sentences, spaces and, last, anywhere."""
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    for separator in ("\n\n", "\n"):
        pieces = text.split(separator)
        if all(utf16_len(p) <= limit for p in pieces):
            return _pack(pieces, separator, limit)
    for paragraph in text.split("\n\n"):
        if utf16_len(paragraph) <= limit:
            parts.append(paragraph)
            continue
        for line in paragraph.split("\n"):
            parts += _cut_line(line, limit) if utf16_len(line) > limit else [line]
    return _pack(parts, "\n\n", limit)


def _pack(pieces: Iterable[str], separator: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{separator}{piece}" if current else piece
        if utf16_len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = piece
    if current or not out:
        out.append(current)
    return [p for p in out if p.strip()] or [""]


def _cut_line(line: str, limit: int) -> list[str]:
    pieces = [p for p in _SENTENCE_END.split(line) if p]
    words: list[str] = []
    for piece in pieces:
        if utf16_len(piece) <= limit:
            words.append(piece)
        else:
            words += re.split(r"(?<= )", piece)
    out: list[str] = []
    current = ""
    for word in words:
        while utf16_len(word) > limit:  # no space to cut at: cut by characters
            head = _take(word, limit - utf16_len(current)) if current else _take(word, limit)
            if current and not head:
                out.append(current)
                current = ""
                continue
            out.append(current + head)
            current = ""
            word = word[len(head):]
        if utf16_len(current + word) <= limit:
            current += word
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return out


def _take(text: str, units: int) -> str:
    taken, used = [], 0
    for char in text:
        size = utf16_len(char)
        if used + size > units:
            break
        taken.append(char)
        used += size
    return "".join(taken)


def step_token(ref: str) -> str:
    digest = hashlib.sha256(ref.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:TOKEN_LEN]


class CallbackCodec:
    """``c|<choice id>|<step token>``: a stable id, never a label, and a short token of the
    "flow.step" the button belongs to, so a press on an old keyboard is recognised."""

    def __init__(self, flows: Mapping[str, Flow], remembered: int = 10_000) -> None:
        self.steps: dict[str, str] = {}
        self.tokens: dict[str, str] = {}  # "flow.step" -> its token: a button costs no hash
        for flow in flows.values():
            for step in flow.steps:
                ref = f"{flow.id}.{step}"
                token = step_token(ref)
                if self.steps.get(token, ref) != ref:
                    raise ValueError(f"step tokens collide: {ref} and {self.steps[token]}")
                self.steps[token] = ref
                self.tokens[ref] = token
        # ids too long for callback_data (built at run time by a service command) travel as a
        # hash; the id is remembered here, and a press after a restart counts as stale.
        self._long: OrderedDict[str, str] = OrderedDict()
        self._remembered = remembered

    def encode(self, choice_id: str, step: str | None) -> str:
        token = (self.tokens.get(step) or step_token(step)) if step else NO_STEP
        data = f"c|{choice_id}|{token}"
        if len(data.encode("utf-8")) <= CALLBACK_LIMIT:
            return data
        key = step_token(choice_id) + step_token("id:" + choice_id)
        self._long[key] = choice_id
        self._long.move_to_end(key)
        while len(self._long) > self._remembered:
            self._long.popitem(last=False)
        return f"h|{key}|{token}"

    def decode(self, data: str | None) -> tuple[str, str | None] | None:
        """``(choice id, "flow.step" or None)``; None when the data is not ours or forgotten."""
        if not data or data[:2] not in ("c|", "h|"):
            return None
        body, sep, token = data[2:].rpartition("|")
        if not sep or not body:
            return None
        if data[0] == "h":
            body = self._long.get(body)
            if body is None:
                return None
        step = None if token == NO_STEP else self.steps.get(token, UNKNOWN_STEP)
        return body, step


def command_lines(
    engine_commands: Iterable[str], extra: Mapping[str, Msg]
) -> list[tuple[str, Msg | str]]:
    """(command, description) for the command menu: the engine's, then the service's own;
    an engine command nobody described yet shows as itself."""
    lines: list[tuple[str, Msg | str]] = [
        (name, COMMAND_HELP.get(name) or f"/{name}") for name in engine_commands]
    known = {name for name, _ in lines}
    lines += [(name, help_line) for name, help_line in extra.items() if name not in known]
    return lines


def command_description(name: str, text: str) -> str:
    """A /help line "/name: does this" becomes "does this"; Telegram allows 3-256 chars."""
    text = text.strip()
    for prefix in (f"/{name}:", f"/{name}：", f"/{name} -", f"/{name}"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
            break
    text = text.splitlines()[0] if text else name
    return (text if len(text) >= 3 else f"/{name} {text}".strip())[:256]
