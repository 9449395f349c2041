"""The console channel: ``python -m bot chat``.

Interactive for a person trying the bot; ``--json`` for programs: one JSON object a line in, one
JSON object a line out (see the README for the contract).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.engine.messages import Msg
from bot.engine.model import Choose, Event, Hello, Text, Upload
from bot.service import Result, Service

CHANNEL = "console"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
JSON_EXAMPLE = '{"text": "..."}, {"choice": "<id>"}, {"file": "<path>"}'
CONSOLE_HELP = Msg(
    "In this terminal: /upload PATH sends a file (put a path with spaces in quotes: "
    "/upload \"~/My scans/license.png\"); Ctrl-D or Ctrl-C ends the chat, and your answers "
    "are kept for next time.")
GOODBYE = Msg("Goodbye. Your answers are saved: start the chat again to continue where you "
              "stopped.")


def upload_path(text: str) -> str:
    """The path after /upload: as typed when such a file exists (spaces and all), else read as
    a shell would ("quoted", 'quoted', back\\ slashed); words left unquoted are one path."""
    if not text or Path(text).expanduser().exists():
        return text
    try:
        words = shlex.split(text)
    except ValueError:  # an unclosed quote
        return text.strip("\"'")
    return " ".join(words)


class LineReader:
    """Lines of input read on the event loop (``add_reader``), not in a thread: a thread
    blocked in ``readline()`` would keep the process alive after Ctrl-C."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer = b""
        self.eof = False
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a StringIO or another non-file
            self.fd = None

    async def readline(self) -> str | None:
        if self.fd is None:
            line = await asyncio.to_thread(self.stream.readline)
            return line or None
        while b"\n" not in self.buffer and not self.eof:
            await self._readable()
        if not self.buffer:
            return None
        line, sep, self.buffer = self.buffer.partition(b"\n")
        return (line + sep).decode("utf-8", errors="replace")

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        try:
            loop.add_reader(self.fd, lambda: ready.done() or ready.set_result(None))
        except PermissionError:  # a regular file (epoll refuses those): reading never blocks
            self._read()
            return
        try:
            await ready
        finally:
            loop.remove_reader(self.fd)
        self._read()

    def _read(self) -> None:
        chunk = os.read(self.fd, 65536)
        self.eof = not chunk
        self.buffer += chunk


def result_json(result: Result) -> dict[str, Any]:
    replies = []
    for reply in result.replies:
        item: dict[str, Any] = {
            "text": reply.text,
            "choices": [{"id": c.id, "label": c.label} for c in reply.choices],
        }
        if reply.document:
            item["document"] = {"path": reply.document.path, "name": reply.document.name}
        replies.append(item)
    return {"replies": replies, "expects": result.expects.to_json()}


class Console:
    def __init__(self, service: Service, user: str, locale: str | None,
                 stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        self.service = service
        self.user = user
        self.locale = locale
        self.stdin = stdin
        self.stdout = stdout
        self._lines: LineReader | None = None

    async def send(self, event: Event) -> Result:
        result = await self.service.handle(CHANNEL, self.user, event, locale=self.locale)
        self.locale = None  # --lang applies once; afterwards /lang decides
        return result

    async def upload(self, path_text: str) -> Result:
        path = Path(path_text).expanduser()
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError:
            return await self.service.notice(
                CHANNEL, self.user, Msg("I could not read the file {path}.", path=str(path)))
        return await self.send(Upload(data, path.name))

    async def readline(self) -> str | None:
        if self._lines is None:
            self._lines = LineReader(self.stdin)
        return await self._lines.readline()

    # -- --json ------------------------------------------------------------------------
    async def run_json(self) -> None:
        self.emit_json(await self.send(Hello()))
        while (line := await self.readline()) is not None:
            if not line.strip():
                continue
            self.emit_json(await self.json_turn(line))

    async def json_turn(self, line: str) -> Result:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict):
            if isinstance(message.get("text"), str):
                return await self.send(Text(message["text"]))
            if isinstance(message.get("choice"), str):
                return await self.send(Choose(message["choice"]))
            if isinstance(message.get("file"), str):
                return await self.upload(message["file"])
        return await self.service.notice(CHANNEL, self.user, Msg(
            "I could not understand that line. Send one JSON object such as {example}.",
            example=JSON_EXAMPLE))

    def emit_json(self, result: Result) -> None:
        try:
            self.stdout.write(json.dumps(result_json(result), ensure_ascii=False) + "\n")
            self.stdout.flush()
        except BrokenPipeError:  # the reading program went away: its turn was saved
            raise SystemExit(0) from None

    # -- interactive -------------------------------------------------------------------
    async def run_interactive(self) -> None:
        root = logging.getLogger()
        root.setLevel(max(root.level, logging.WARNING))  # log lines would break up the chat
        result = await self.send(Hello())
        asked_help = False
        try:
            while True:
                self.show(result)
                if asked_help:  # what only this terminal offers
                    self.say(result.locale, CONSOLE_HELP)
                self.stdout.write("> ")
                self.stdout.flush()
                line = await self.readline()
                if line is None:  # Ctrl-D
                    return
                asked_help = line.strip().lower() == "/help"
                result = await self.interactive_turn(line.strip(), result)
        finally:  # also on Ctrl-C: every answered turn is already committed
            self.stdout.write("\n")
            self.say(result.locale, GOODBYE)

    async def interactive_turn(self, line: str, last: Result) -> Result:
        if line.startswith("/upload"):
            return await self.upload(upload_path(line[len("/upload"):].strip()))
        button = _buttons(last).get(line.casefold())
        if button is not None:
            return await self.send(Choose(button))
        return await self.send(Text(line))  # a number too: the engine knows what it means

    def say(self, locale: str, message: Msg) -> None:
        self.stdout.write(self.service.guide.render.text(locale, message) + "\n")
        self.stdout.flush()

    def show(self, result: Result) -> None:
        buttons = {choice_id: key for key, choice_id in _buttons(result).items()}
        for reply in result.replies:
            self.stdout.write("\n" + reply.text + "\n")
            for number, choice in enumerate(reply.choices, 1):
                if reply.choices == result.expects.choices:  # the engine's numbers
                    self.stdout.write(f"  [{number}] {choice.label}\n")
                else:
                    self.stdout.write(f"  [{buttons[choice.id]}] {choice.label}\n")
            if reply.document:
                self.stdout.write(f"  → {reply.document.path}\n")
        if result.expects.kind == "files":
            hint = self.service.guide.render.text(
                result.locale, Msg("(Send a file with /upload PATH)"))
            self.stdout.write(hint + "\n")


def _buttons(result: Result) -> dict[str, str]:
    """Choices outside the question (an offer, a reminder's buttons) as lettered buttons: the
    terminal has no buttons, and numbers belong to the question (the engine reads them)."""
    extra = [c.id for r in result.replies if r.choices != result.expects.choices
             for c in r.choices]
    return dict(zip(LETTERS, extra, strict=False))
