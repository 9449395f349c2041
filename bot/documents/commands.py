"""The merchant's commands for documents: ``/package``, ``/delete``, and the buttons behind them
(``docs:smaller:<category>``, ``docs:delete:<time>``, ``docs:keep``).

Each handler runs inside the event's transaction (see ``bot.plugins.Turn``); files on disk are
removed only after that transaction has committed, and written before it, like uploads.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from bot.documents import pdf
from bot.documents.checklist import names_by_index, render_checklist
from bot.documents.outbox import Outbox
from bot.documents.package import entries, ref_of, stored_path, write_zip
from bot.documents.privacy import erase, remove_files
from bot.engine import images
from bot.engine.files import check_file, human_size
from bot.engine.intake import SMALLER, category, upload_rule
from bot.engine.messages import Invalid, Msg
from bot.engine.model import Attachment, Choice, FileSpec, Reply, State
from bot.plugins import Turn
from bot.store import documents as stored
from bot.store.models import Document

log = logging.getLogger(__name__)
PREFIX = "docs"
CONFIRM_SECONDS = 600  # a /delete confirmation button older than this is refused


class Desk:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def say(turn: Turn, message: Msg, **extra) -> Reply:
        return Reply(turn.service.guide.render.text(turn.state.locale, message), **extra)

    @staticmethod
    def after_commit(turn: Turn, action) -> None:
        """Run ``action`` (blocking file work) once the event's transaction has committed."""
        turn.after_commit(action)

    @staticmethod
    async def rows(turn: Turn) -> list[Document]:
        return await stored.of_merchant(turn.session, turn.merchant.id)

    # -- /package --------------------------------------------------------------------------
    async def package(self, turn: Turn) -> list[Reply]:
        files = turn.service.files
        rows = await self.rows(turn)
        items = await asyncio.to_thread(entries, files, rows)
        state = turn.state
        state.documents = [ref_of(row) for row in rows]
        today = turn.service.today(turn.merchant.timezone, turn.now)
        text = render_checklist(turn.service.guide, state, names_by_index(state.documents, items),
                                today)
        replies = [Reply(text)]
        stamp = today.strftime("%Y%m%d")
        if any(item.path is not None for item in items):
            name = f"认证材料_{stamp}.zip" if state.locale == "zh_CN" else (
                f"certification_materials_{stamp}.zip")
            target = self.outbox.reserve(turn.merchant.id, name)
            written = await asyncio.to_thread(write_zip, target, items)
            replies.append(self.say(turn, Msg(
                "Your accepted files, named for upload ({count} files). Unpack the ZIP and "
                "upload each file on the page the checklist names.", count=len(written)),
                document=Attachment(str(target.resolve()), name)))
        else:
            replies.append(self.say(turn, Msg("You have not sent any files yet, so there is no "
                                              "ZIP: the checklist shows what is needed.")))
        lines = text.splitlines()
        document = await asyncio.to_thread(pdf.render, lines[0], lines[1:],
                                           footer=state.answers.get("company_name", ""))
        pdf_name = f"材料清单_{stamp}.pdf" if state.locale == "zh_CN" else f"checklist_{stamp}.pdf"
        replies.append(self.say(turn, Msg("The same checklist as a PDF, to print."),
                                document=self.outbox.put(turn.merchant.id, pdf_name, document)))
        return replies

    # -- /delete ---------------------------------------------------------------------------
    async def delete(self, turn: Turn) -> list[Reply]:
        render = turn.service.guide.render
        loc = turn.state.locale
        stamp = int(turn.now.replace(tzinfo=UTC).timestamp())
        choices = (Choice(f"{PREFIX}:delete:{stamp}", render.text(loc, Msg("Delete everything"))),
                   Choice(f"{PREFIX}:keep", render.text(loc, Msg("Keep my data"))))
        return [self.say(turn, Msg(
            "This erases everything I keep about you: your answers, your files, your review "
            "statuses and reminders. It cannot be undone. Delete everything?"),
            choices=choices)]

    async def confirm_delete(self, turn: Turn, stamp: str) -> list[Reply]:
        asked = (datetime.fromtimestamp(int(stamp), UTC).replace(tzinfo=None)
                 if stamp.isdigit() and len(stamp) < 12 else None)
        if asked is None or not 0 <= (turn.now - asked).total_seconds() <= CONFIRM_SECONDS:
            return [self.say(turn, Msg("That confirmation has expired; nothing was deleted. "
                                       "Send /delete again if you want to erase your data."))]
        files = turn.service.files
        doomed = await erase(turn.session, turn.merchant, files)
        merchant_id = turn.merchant.id

        def cleanup() -> None:
            remove_files(files, doomed)
            self.outbox.clear(merchant_id)

        self.after_commit(turn, cleanup)
        turn.merchant.timezone = turn.service.timezone
        turn.state = State(turn.state.locale)
        log.info("merchant %s erased their data", merchant_id)
        return [self.say(turn, Msg("Done: your answers, files and reminders are deleted. You "
                                   "can start again from the menu at any time."))]

    # -- a smaller copy of an oversized scan ------------------------------------------------
    async def smaller(self, turn: Turn, category_id: str) -> list[Reply]:
        spec = _spec(turn, category_id)
        rows = [r for r in await self.rows(turn) if r.category == category_id]
        row = rows[-1] if rows else None
        limit = spec.rule.recommend_bytes if spec else None
        if spec is None or row is None or not limit or row.kind not in ("jpg", "png"):
            return [self.say(turn, Msg("There is no scan here that I can make smaller."))]
        if row.size <= limit:
            return [self.say(turn, Msg("This scan is already under {limit}: upload it as it is.",
                                       limit=human_size(limit)))]
        files = turn.service.files
        old = stored_path(files, row)
        try:
            data = await asyncio.to_thread(old.read_bytes)
            copy = await asyncio.to_thread(images.recompress, data, row.kind, limit=limit,
                                           min_side=spec.rule.min_pixels)
            checked = check_file(copy, "copy.jpg", upload_rule(spec)) if copy else None
        except (OSError, images.Damaged, images.TooManyPixels, Invalid):
            checked = None
        if checked is None:
            return [self.say(turn, Msg(
                "I could not make a copy under {limit} that stays sharp. Please scan the "
                "document again at a lower resolution (about 200 dpi) or as JPG.",
                limit=human_size(limit)))]
        storage = await asyncio.to_thread(files.store, "jpg", copy)
        old_ref = ref_of(row)
        previous = row.storage
        stem = Path(row.name).stem or category(category_id).upload_name
        row.name, row.kind, row.size = f"{stem}.jpg", "jpg", checked.size
        row.sha256, row.phash, row.storage = checked.sha256, checked.phash, storage
        turn.state.documents = [ref_of(row) if d == old_ref else d
                                for d in turn.state.documents]
        if previous:
            self.after_commit(turn, lambda: files.remove(previous))
        name = f"{category(category_id).upload_name}.jpg"
        return [self.say(turn, Msg(
            "Here is a copy of {size} (was {before}) that is still sharp. I keep it in place "
            "of the original: upload this one to the platform.",
            size=human_size(checked.size), before=human_size(old_ref.size)),
            document=self.outbox.put(turn.merchant.id, name, copy))]

    # -- buttons ---------------------------------------------------------------------------
    async def choice(self, turn: Turn) -> list[Reply]:
        action, _, rest = turn.arg.partition(":")
        if action == "delete":
            return await self.confirm_delete(turn, rest)
        if action == "keep":
            return [self.say(turn, Msg("Nothing was deleted."))]
        if f"{PREFIX}:{action}:" == SMALLER:
            return await self.smaller(turn, rest)
        return []


def _spec(turn: Turn, category_id: str) -> FileSpec | None:
    for flow in turn.service.guide.flows.values():
        for step in flow.steps.values():
            if step.files and step.files.category == category_id:
                return step.files
    return None

