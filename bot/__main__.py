"""Command line: ``python -m bot run | chat | remind | admin | i18n | check | diagrams |
transcripts``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.app import (
    UNENCRYPTED,
    build_senders,
    configure_logging,
    encrypted,
    open_service,
    reminder_worker,
    running_reminders,
    settle_heap,
    until_stopped,
    warn_unencrypted,
)
from bot.channels.base import ChannelError
from bot.config import Settings
from bot.startup import plain_failures

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
    remind = commands.add_parser("remind", help="send due reminders (a loop; --once: one pass)")
    remind.add_argument("--once", action="store_true",
                        help="send what is due now, print one JSON line per reminder, exit")
    remind.add_argument("--now", metavar="ISO-8601",
                        help="with --once: the moment to act at (no offset: BOT_TIMEZONE)")
    remind.add_argument("--db", help="SQLAlchemy database URL (default: from settings)")
    retention = commands.add_parser(
        "retention", help="delete files of inactive merchants, orphaned and handed-over files")
    retention.add_argument("--days", type=int,
                           help="inactive for this many days (default: BOT_RETENTION_DAYS)")
    admin = commands.add_parser("admin", help="the operator console: users, serve")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    add_user = admin_commands.add_parser(
        "add-user", help="add a console user (or reset one); the password is read from stdin")
    add_user.add_argument("name")
    add_user.add_argument("--role", choices=["operator", "admin"], required=True)
    admin_commands.add_parser("list-users", help="list the console's users")
    remove_user = admin_commands.add_parser("remove-user", help="remove a console user")
    remove_user.add_argument("name")
    admin_commands.add_parser("serve", help="serve the console alone at BOT_ADMIN_LISTEN")
    commands.add_parser("i18n", help="extract messages and update the catalogs")
    commands.add_parser("check", help="load and check the flows and catalogs")
    commands.add_parser("diagrams", help="write dialogs/diagrams/*.mmd from the flows")
    commands.add_parser("transcripts",
                        help="write docs/transcripts/<flow>.<locale>.md from scripted answers")
    return parser.parse_args(argv)


def parse_now(text: str, timezone: str) -> datetime:
    """An ISO-8601 moment as naive UTC; without an offset it is read in ``timezone``."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC).replace(tzinfo=None)


async def chat(settings: Settings, args: argparse.Namespace, *, remind: bool = False) -> None:
    from bot.channels.console import Console
    from bot.web.admin import serving_console

    if args.json:
        warn_unencrypted(settings)
    # The interactive chat shows what arrives on its own (reminders, the license read) in the
    # terminal; the JSON console's one line per turn is a contract, so nothing is pushed there.
    senders = {} if args.json else build_senders(settings, console=sys.stdout,
                                                 console_buttons=False)
    async with open_service(settings, args.db, senders=senders) as service:
        console = Console(service, args.user, args.lang)
        if not args.json and not encrypted(settings):
            console.say(settings.bot_default_locale, UNENCRYPTED)  # once, as a line of the chat
        # Inside `run`, the console's reminders and operators' replies appear in the terminal.
        worker = running_reminders(service, settings, senders) if remind else nullcontext()
        staff_console = serving_console(service, settings, senders) if remind else nullcontext()
        async with worker, staff_console:
            await (console.run_json() if args.json else console.run_interactive())


def serve_console(settings: Settings) -> int:
    """``admin serve``: the console alone; replies reach merchants through each configured
    channel's sender."""
    from bot.channels.senders import channel_senders
    from bot.web.admin import serving_console

    if not settings.bot_admin_listen:
        print("BOT_ADMIN_LISTEN is not set (host:port)", file=sys.stderr)
        return 2

    async def serve() -> None:
        async with (open_service(settings) as service,
                    channel_senders(service, settings) as channels):
            senders = {**build_senders(settings), **channels}
            async with serving_console(service, settings, senders) as console:
                if console is None:
                    raise SystemExit(1)
                await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 130
    return 0


async def remind(settings: Settings, args: argparse.Namespace) -> None:
    def print_line(record: dict) -> None:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    from bot.channels.senders import channel_senders

    async with (open_service(settings, args.db) as service,
                channel_senders(service, settings) as channels):
        senders = {**build_senders(settings), **channels}
        worker = reminder_worker(service, settings, senders, report=print_line)
        if args.once:
            now = parse_now(args.now, settings.bot_timezone) if args.now else service.clock()
            await worker.run_once(now)
        else:
            await worker.loop(service.clock)


async def run(settings: Settings) -> None:
    channels = []  # Telegram and WeCom join here when configured
    if settings.telegram_bot_token:
        from bot.channels.telegram import serve as serve_telegram

        channels.append(serve_telegram)
    if settings.wecom_configured or settings.wecom_kf_configured:
        from bot.channels.wecom.app import serve as serve_wecom

        channels.append(serve_wecom)
    if not channels:
        log.info("no channel configured: opening the console chat")
        logging.getLogger().setLevel(logging.WARNING)  # start-up lines would break up the chat
        await chat(settings, argparse.Namespace(json=False, user="console", lang=None, db=None),
                   remind=True)
        return
    from bot.web import serving_uploads
    from bot.web.admin import serving_console

    warn_unencrypted(settings)
    senders = build_senders(settings)  # each channel adds its sender while it serves
    async with (open_service(settings, senders=senders) as service,
                running_reminders(service, settings, senders),
                serving_console(service, settings, senders),  # BOT_ADMIN_LISTEN, if set
                serving_uploads(service, settings) as uploads):  # one page, every channel
        settle_heap()
        await until_stopped(asyncio.gather(*(
            serve(service, settings, senders=senders, uploads=uploads) for serve in channels)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with plain_failures(Settings):  # a bad setting or database: one sentence, status 2
        return command(args)


def command(args: argparse.Namespace) -> int:
    settings = Settings()
    # The JSON console owns stdout; logs go to stderr, quiet unless something is wrong.
    quiet = args.command == "chat"
    configure_logging("WARNING" if quiet else settings.bot_log_level, settings.bot_log_format)
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
    if args.command == "transcripts":
        from bot.content import load_guide
        from bot.transcripts import write_transcripts

        for path in write_transcripts(load_guide()):
            print(path)
        return 0
    if args.command == "retention":
        from bot.documents.retention import main as retention

        return retention(settings, args.days)
    if args.command == "admin" and args.admin_command == "serve":
        return serve_console(settings)
    if args.command == "admin":
        from bot.web.admin.cli import main as admin

        return admin(settings, args)
    if args.command == "check":
        from bot.content import load_guide

        guide = load_guide()
        print(f"{len(guide.flows)} flows ok")
        return 0
    if args.command in ("run", "remind") and settings.wecom_kf_missing:
        print(f"微信客服 (WeCom kf) is partly configured: set "
              f"{', '.join(settings.wecom_kf_missing)} too, or unset the other WECOM_KF_ "
              "settings.", file=sys.stderr)
        return 2
    try:
        if args.command == "remind":
            if args.now and not args.once:
                print("--now needs --once", file=sys.stderr)
                return 2
            if args.now:
                try:
                    parse_now(args.now, settings.bot_timezone)
                except ValueError:
                    print(f"--now: not an ISO-8601 time: {args.now!r}", file=sys.stderr)
                    return 2
            asyncio.run(remind(settings, args))
            return 0
        asyncio.run(chat(settings, args) if args.command == "chat" else run(settings))
    except KeyboardInterrupt:
        return 130
    except ChannelError as exc:  # a channel cannot serve: one plain sentence, no traceback
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
