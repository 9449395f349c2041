"""Command line: ``python -m bot run | chat | i18n | check | diagrams``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import configure_logging, open_service
from bot.config import Settings

log = logging.getLogger("bot")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start every configured channel (none: the console chat)")
    chat = commands.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines in and out, for programs")
    chat.add_argument("--user", default="console", help="merchant key (default: console)")
    chat.add_argument("--lang", choices=["zh_CN", "en"], help="conversation language")
    chat.add_argument("--db", help="SQLAlchemy database URL (default: from settings)")
    commands.add_parser("i18n", help="extract messages and update the catalogs")
    commands.add_parser("check", help="load and check the flows and catalogs")
    commands.add_parser("diagrams", help="write dialogs/diagrams/*.mmd from the flows")
    return parser.parse_args(argv)


async def chat(settings: Settings, args: argparse.Namespace) -> None:
    from bot.channels.console import Console

    async with open_service(settings, args.db) as service:
        console = Console(service, args.user, args.lang)
        await (console.run_json() if args.json else console.run_interactive())


async def run(settings: Settings) -> None:
    channels = []  # Telegram and WeCom join here when configured
    if settings.telegram_bot_token:
        from bot.channels.telegram import serve as serve_telegram

        channels.append(serve_telegram)
    if settings.wecom_configured:
        from bot.channels.wecom.app import serve as serve_wecom

        channels.append(serve_wecom)
    if not channels:
        log.info("no channel configured: opening the console chat")
        await chat(settings, argparse.Namespace(json=False, user="console", lang=None, db=None))
        return
    async with open_service(settings) as service:
        await asyncio.gather(*(serve(service, settings) for serve in channels))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    # The JSON console owns stdout; logs go to stderr, quiet unless something is wrong.
    quiet = args.command == "chat"
    configure_logging("WARNING" if quiet else settings.bot_log_level)
    if args.command == "i18n":
        from bot.i18n_tools import update_catalogs

        for locale, missing in update_catalogs().items():
            print(f"{locale}: {missing} untranslated")
        return 0
    if args.command == "diagrams":
        from bot.content import DIALOGS, load_guide
        from bot.engine.diagram import mermaid

        for flow in load_guide().flows.values():
            path = DIALOGS / "diagrams" / f"{flow.id}.mmd"
            path.write_text(mermaid(flow), encoding="utf-8")
            print(path)
        return 0
    if args.command == "check":
        from bot.content import load_guide

        guide = load_guide()
        print(f"{len(guide.flows)} flows ok")
        return 0
    try:
        asyncio.run(chat(settings, args) if args.command == "chat" else run(settings))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
