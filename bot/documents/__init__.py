"""Documents beyond the check of one upload: the materials package with its checklist (ZIP and
PDF), smaller copies of oversized scans, and privacy: ``/delete``, ID numbers encrypted at rest,
retention. ``install`` registers it all with a service, as a ``bot.plugins.Plugin``."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import Settings
from bot.documents.commands import PREFIX, Desk
from bot.documents.outbox import Outbox
from bot.documents.privacy import Sealer
from bot.engine.messages import Msg
from bot.plugins import Command, Handler, Plugin
from bot.service import Service


class Documents(Plugin):
    def __init__(self, desk: Desk, sealer: Sealer | None) -> None:
        self.desk = desk
        self.sealer = sealer

    def commands(self) -> Mapping[str, Command]:
        return {
            "package": Command(self.desk.package, Msg(
                "/package: your accepted files as a ZIP named for upload, with a checklist")),
            "delete": Command(self.desk.delete, Msg(
                "/delete: erase your answers and files")),
        }

    def choices(self) -> Mapping[str, Handler]:
        return {PREFIX: self.desk.choice}

    def seal(self, data: dict) -> dict:
        return self.sealer.seal(data) if self.sealer else data

    def unseal(self, data: dict) -> dict:
        return self.sealer.unseal(data) if self.sealer else data


def install(service: Service, settings: Settings) -> Desk:
    desk = Desk(Outbox(settings.outbox_dir))
    cipher = settings.cipher
    service.install(Documents(desk, Sealer(cipher) if cipher is not None else None))
    return desk
