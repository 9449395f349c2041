"""Staff alerts of the shared handoff through the WeCom group robot, from any channel: a
Telegram merchant asks for a person in a process with WECOM_ROBOT_KEY set and no 微信客服. The
robot's webhook is the fake on loopback; the service, the handoff and the database are real."""

from __future__ import annotations

import asyncio

from fake_kf import ROBOT_KEY, FakeKf

from bot.app import open_service
from bot.config import Settings
from bot.engine.model import Hello, Text
from bot.handoff import installed

WAIT = 20


async def robot_texts(fake: FakeKf, count: int) -> list[str]:
    async with asyncio.timeout(WAIT):
        while len(fake.robot) < count:
            await asyncio.sleep(0.05)
    return [text for _, text in fake.robot]


async def test_a_telegram_handoff_and_its_realert_reach_the_staff_group(tmp_path, database_url):
    fake = FakeKf()
    await fake.start()
    settings = Settings(_env_file=None, bot_data_dir=tmp_path, bot_database_url=database_url,
                        wecom_robot_key=ROBOT_KEY, wecom_api_base=fake.base_url,
                        bot_handoff_realert_minutes=0)
    assert not settings.wecom_kf_configured and not settings.wecom_configured
    try:
        async with open_service(settings) as service:
            await service.handle("telegram", "4242", Hello(), language="zh_CN")
            result = await service.handle("telegram", "4242", Text("转人工"))
            assert "服务时间" in result.replies[0].text
            (asked,) = await robot_texts(fake, 1)
            assert "有商家申请转人工" in asked and "（telegram）" in asked
            assert "当前位置：主菜单" in asked  # asked at the main menu
            assert "Asia/Shanghai" in asked  # the wait in the team's time, zone named
            await asyncio.sleep(0.01)  # the wait is older than the (zero) re-alert time
            assert await installed(service).check_waiting() == 1
            texts = await robot_texts(fake, 2)
            assert "仍在等待人工回复" in texts[1]
    finally:
        await fake.stop()
    assert fake.robot_posts == 2  # one message per alert, each with the robot's key
