"""Web pages the bot serves itself: the one-time document upload page."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bot.config import Settings
from bot.service import Service
from bot.web.upload import UploadPage

log = logging.getLogger(__name__)

SECRET_FILE = "upload_secret"


def upload_secret(settings: Settings) -> bytes:
    """BOT_UPLOAD_SECRET, or a random secret kept in the data directory (so links survive a
    restart; several workers on different hosts need the setting)."""
    configured = settings.bot_upload_secret
    if configured is not None and configured.get_secret_value():
        return configured.get_secret_value().encode("utf-8")
    path = Path(settings.bot_data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic: the first worker's secret wins
            log.info("upload page: created a secret in %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())

def build_upload_page(service: Service, settings: Settings, base_url: str) -> UploadPage:
    return UploadPage(service, secret=upload_secret(settings), base_url=base_url,
                      ttl=settings.bot_upload_ttl)


__all__ = ["UploadPage", "build_upload_page", "upload_secret"]
