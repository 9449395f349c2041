"""Web pages the bot serves itself: the one-time document upload page, with health and metrics
(``bot.web.ops``) on the same server."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.config import Settings
from bot.service import Service
from bot.web.ops import Operations
from bot.web.upload import UploadPage
from bot.web.webapp import serve_mini_app

log = logging.getLogger(__name__)

SECRET_FILE = "upload_secret"
UPLOAD_BODY_LIMIT = 64 * 1024 * 1024  # the upload page streams; this bounds anything else


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
    page = UploadPage(service, secret=upload_secret(settings), base_url=base_url,
                      ttl=settings.bot_upload_ttl, also=[Operations(service.db).add_routes])
    if settings.telegram_bot_token:  # the Mini App at /upload/app checks Telegram's HMAC
        serve_mini_app(page, settings.telegram_bot_token.get_secret_value())
    return page


@asynccontextmanager
async def serving_uploads(service: Service,
                          settings: Settings) -> AsyncIterator[UploadPage | None]:
    """One upload page for every channel of ``run``. WeCom's server serves it when WeCom runs,
    else Telegram's webhook server in webhook mode; with neither (Telegram polling) a small
    server of its own listens on BOT_UPLOAD_LISTEN. None when that server cannot listen: the
    chat works without the page."""
    own = False
    if settings.wecom_configured or settings.wecom_kf_configured:
        listen = settings.wecom_listen
    elif settings.telegram_bot_token and settings.telegram_webhook_url:
        listen = settings.telegram_webhook_listen
    else:
        listen, own = settings.bot_upload_listen, True
    base_url = settings.bot_public_url or f"http://{listen}"
    if not settings.bot_public_url:
        log.warning("BOT_PUBLIC_URL is not set: upload links point at %s", base_url)
    uploads = build_upload_page(service, settings, base_url)
    page: UploadPage | None = uploads
    runner = None
    try:
        if own:
            host, sep, port = listen.strip().rpartition(":")
            if not sep or not port.isdigit():
                raise ValueError(f"BOT_UPLOAD_LISTEN must be host:port, got {listen!r}")
            app = web.Application(client_max_size=UPLOAD_BODY_LIMIT)
            uploads.add_routes(app)
            runner = web.AppRunner(app, access_log=None)  # paths carry upload tokens
            await runner.setup()
            try:
                await web.TCPSite(runner, host.strip("[]") or "0.0.0.0", int(port)).start()
                log.info("upload page: listening on %s", listen)
            except OSError as exc:  # e.g. the port is taken: an optional page stops nothing
                log.error("upload page: cannot listen on %s (%s); no upload links", listen, exc)
                page = None
        yield page
    finally:
        await uploads.close()
        if runner is not None:
            await runner.cleanup()


__all__ = ["UploadPage", "build_upload_page", "serving_uploads", "upload_secret"]
