"""Documents beyond the check of one upload: the materials package with its checklist (ZIP and
PDF), smaller copies of oversized scans, and privacy: ``/delete``, ID numbers encrypted at rest,
retention. ``install`` registers it all with a service."""

from __future__ import annotations

from bot.config import Settings
from bot.documents.commands import PREFIX, Desk
from bot.documents.outbox import Outbox
from bot.documents.privacy import Sealer, keys_from
from bot.engine.messages import Msg
from bot.service import Service


def install(service: Service, settings: Settings) -> Desk:
    desk = Desk(Outbox(settings.outbox_dir))
    service.add_command("package", desk.package, Msg(
        "/package: your accepted files as a ZIP named for upload, with a checklist"))
    service.add_command("delete", desk.delete, Msg(
        "/delete: erase your answers and files"))
    service.choice_prefixes[PREFIX] = desk.choice
    key = settings.bot_encryption_key
    if key is not None and keys_from(key.get_secret_value()):
        sealer = Sealer(keys_from(key.get_secret_value()))
        service.seal, service.unseal = sealer.seal, sealer.unseal
    return desk
