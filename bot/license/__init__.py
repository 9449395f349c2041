"""Reading the business license: ``install`` attaches it to a service.

An accepted license scan is read in a worker process (``bot.license.ocr``) while the
conversation goes on: the upload's own turn answers at once. When the read is done, its result
is applied as the merchant's next event (``ScanRead``, through ``Service.handle``, so it is
serialised with the merchant's other messages and recorded once), and the guide's replies go out
through the channel's ``Sender``, as reminders do. Nothing read is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from bot.channels.base import Sender
from bot.config import Settings
from bot.engine.consistency import LICENSE_CATEGORY
from bot.engine.model import ScanRead, StoreDocument
from bot.license.ocr import Reader
from bot.plugins import Change, Plugin
from bot.service import Service

log = logging.getLogger(__name__)


class LicenseDesk(Plugin):
    def __init__(self, service: Service, reader: Reader, senders: Mapping[str, Sender]) -> None:
        self.service = service
        self.reader = reader
        self.senders = senders  # the registry bot.app builds; channels join it as they start
        self._tasks: dict[tuple[str, str, str], asyncio.Task] = {}

    def on_turn(self, change: Change) -> None:
        """Starts a read when this turn accepted a license scan. Its result is applied as a
        turn of its own, after this one (under the merchant's lock), and sent on its own."""
        for effect in change.effects:
            if not (isinstance(effect, StoreDocument)
                    and effect.ref.category == LICENSE_CATEGORY):
                continue
            sha = effect.ref.sha256
            key = (change.channel, change.user_key, sha)
            if key in self._tasks:  # the same turn retried after a concurrent write
                continue
            update_id = f"license-read:{change.user_key}:{sha[:40]}"[:128]
            self._tasks[key] = asyncio.create_task(self._read(key, effect.data, update_id),
                                                   name="license-read")

    async def _read(self, key: tuple[str, str, str], data: bytes, update_id: str) -> None:
        channel, user_key, sha = key
        try:
            fields = await self.reader.read(data)
            result = await self.service.handle(channel, user_key, ScanRead(sha, fields),
                                               update_id=update_id)
            sender = self.senders.get(channel)
            if result.replies and sender is not None:
                await sender.send(user_key, result.replies)
        except Exception as exc:  # a failed read or send must not take anything else down
            log.warning("license read for a %s merchant not delivered: %s", channel,
                        type(exc).__name__)
        finally:
            self._tasks.pop(key, None)

    async def idle(self) -> None:
        """Wait until every read under way has been applied and sent."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.reader.close()


def install(service: Service, settings: Settings,
            senders: Mapping[str, Sender]) -> LicenseDesk | None:
    """Read accepted license scans (``BOT_LICENSE_OCR``, on by default); None when off."""
    if not settings.bot_license_ocr:
        return None
    reader = Reader(timeout=settings.bot_license_ocr_timeout,
                    workers=settings.bot_license_ocr_workers)
    desk = LicenseDesk(service, reader, senders)
    service.install(desk)
    return desk
