"""Wiring: settings -> the 微信客服 channel, its callback routes and the group robot."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.channels.wecom.crypto import WeComCrypto
from bot.channels.wecom.kf.api import KfApi
from bot.channels.wecom.kf.callback import KfCallback
from bot.channels.wecom.kf.channel import CHANNEL, KfChannel
from bot.channels.wecom.robot import Robot
from bot.channels.wecom.shared import token_store
from bot.config import Settings
from bot.handoff import installed
from bot.service import Service
from bot.store.kf import KfStore
from bot.web.upload import UploadPage


@dataclass
class Kf:
    channel: KfChannel
    robot: Robot | None
    own_robot: bool = True  # False: the process's robot (bot.app), closed there

    async def close(self) -> None:
        await self.channel.close()
        if self.robot is not None and self.own_robot:
            await self.robot.close()


def build_robot(session: aiohttp.ClientSession, service: Service, settings: Settings,
                store: KfStore) -> Robot | None:
    if not settings.wecom_robot:
        return None
    return Robot(session, store, base_url=settings.wecom_api_base, key=settings.wecom_robot,
                 now=service.clock)


def shared_robot(service: Service) -> Robot | None:
    """The robot ``bot.app.open_service`` started for the handoff's alerts, if any: one robot
    a process, so that its pacing (20 a minute) holds."""
    robot = service.desks.get("robot")
    return robot if isinstance(robot, Robot) else None


def build_kf(session: aiohttp.ClientSession, service: Service, settings: Settings,
             uploads: UploadPage | None = None) -> Kf:
    """The channel and its robot (started); the caller closes them with ``Kf.close``."""
    # Several workers on one database share the 微信客服 access token (one gettoken for all).
    shared = None if service.db.is_sqlite else token_store(
        service.db.engine, f"wecom_kf:{settings.wecom_corp_id}", cipher=settings.cipher)
    api = KfApi(session, base_url=settings.wecom_api_base, corp_id=settings.wecom_corp_id,
                secret=settings.wecom_kf_secret.get_secret_value(), token_store=shared)
    store = KfStore(service.db)
    robot = shared_robot(service)
    own = robot is None
    if own:
        robot = build_robot(session, service, settings, store)
        if robot is not None:
            robot.start()
    channel = KfChannel(service, api, store, robot=robot, uploads=uploads,
                        servicer=(settings.wecom_kf_servicer or "").strip() or None)
    join_handoff(service, channel)
    return Kf(channel, robot, own_robot=own)


def join_handoff(service: Service, channel: KfChannel) -> None:
    """A kf merchant's handoff (bot.handoff) moves their session to a person in WeCom; a
    release in the console ends it there."""
    desk = installed(service)
    if desk is not None:
        desk.add_listener(channel.handed_over)
        desk.add_releaser(CHANNEL, channel.release)


def mount_kf(app: web.Application, kf: Kf, settings: Settings,
             uploads: UploadPage | None) -> None:
    crypto = WeComCrypto(settings.wecom_kf_token.get_secret_value(),
                         [settings.wecom_kf_encoding_aes_key.get_secret_value()],
                         settings.wecom_corp_id)
    KfCallback(crypto, corp_id=settings.wecom_corp_id,
               notify=kf.channel.notify).add_routes(app, settings.wecom_kf_path)
    if uploads is not None:
        uploads.register(CHANNEL, kf.channel.deliver)
