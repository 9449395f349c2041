"""Senders for a process that does not serve the channels (``python -m bot remind --once``).

``run`` registers each channel's own sender while it serves; a cron run reaches Telegram and
WeCom merchants through these instead: the same channel code, talking to the same HTTP APIs,
without polling or a callback server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from bot.channels.base import Sender
from bot.config import Settings
from bot.service import Service


@asynccontextmanager
async def channel_senders(
    service: Service, settings: Settings
) -> AsyncIterator[dict[str, Sender]]:
    senders: dict[str, Sender] = {}
    async with AsyncExitStack() as stack:
        if settings.telegram_bot_token:
            from bot.channels.telegram.botapi import BotAPI
            from bot.channels.telegram.core import TelegramChannel

            api = BotAPI(settings.telegram_bot_token.get_secret_value(),
                         settings.telegram_api_server, local=settings.telegram_api_local)
            stack.push_async_callback(api.close)
            senders["telegram"] = TelegramChannel(service, api)
        if settings.wecom_configured:
            import aiohttp

            from bot.channels.wecom.api import WeComApi
            from bot.channels.wecom.app import API_TIMEOUT
            from bot.channels.wecom.channel import WeComChannel

            http = await stack.enter_async_context(aiohttp.ClientSession(timeout=API_TIMEOUT))
            api = WeComApi(http, base_url=settings.wecom_api_base,
                           corp_id=settings.wecom_corp_id,
                           secret=settings.wecom_secret.get_secret_value(),
                           agent_id=int(settings.wecom_agent_id))
            senders["wecom"] = WeComChannel(service, api)
        if settings.wecom_kf_configured:
            import aiohttp

            from bot.channels.wecom.app import API_TIMEOUT
            from bot.channels.wecom.kf.app import build_kf

            http = await stack.enter_async_context(aiohttp.ClientSession(timeout=API_TIMEOUT))
            kf = build_kf(http, service, settings)
            stack.push_async_callback(kf.close)
            senders["wecom_kf"] = kf.channel
        yield senders
