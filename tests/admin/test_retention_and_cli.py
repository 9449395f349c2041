"""Transcripts follow BOT_RETENTION_DAYS; the console's users are managed from the command
line, the password read from standard input and never from an argument."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from bot.documents.outbox import Outbox
from bot.documents.retention import sweep
from bot.store import console as store
from tests.admin.kit import PASSWORD


async def test_retention_deletes_the_transcripts_of_inactive_merchants(site, tmp_path):
    await site.start_form("old", "Old Quiet Trading Co., Ltd.")
    site.clock.advance(days=40)
    await site.start_form("new", "New Busy Trading Co., Ltd.")
    old, new = await site.merchant("old"), await site.merchant("new")
    swept = await sweep(site.service.db, site.service.files, Outbox(tmp_path / "outbox"),
                        days=30, now=site.clock() + timedelta(hours=1))
    assert swept.transcript_turns == 3
    assert await store.transcript(site.service.db, old.id) == []
    assert len(await store.transcript(site.service.db, new.id)) == 3


def run_bot(tmp_path, *args, stdin: str = ""):
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_LOG_LEVEL": "WARNING"}
    env.pop("BOT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "bot", "admin", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_users_from_the_command_line(tmp_path):
    added = run_bot(tmp_path, "add-user", "lin", "--role", "operator", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    assert run_bot(tmp_path, "add-user", "wang", "--role", "admin",
                   stdin=PASSWORD + "\n").returncode == 0
    short = run_bot(tmp_path, "add-user", "zhao", "--role", "admin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad_role = run_bot(tmp_path, "add-user", "zhao", "--role", "root", stdin=PASSWORD)
    assert bad_role.returncode == 2

    listed = run_bot(tmp_path, "list-users")
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["lin", "operator"], ["wang", "admin"]]
    db_text = (tmp_path / "data" / "bot.db").read_bytes()
    assert PASSWORD.encode() not in db_text  # only its scrypt hash is stored

    assert run_bot(tmp_path, "remove-user", "lin").returncode == 0
    assert run_bot(tmp_path, "remove-user", "lin").returncode == 1
    assert run_bot(tmp_path, "list-users").stdout.split("\t")[0] == "wang"


def test_serve_needs_an_address(tmp_path):
    result = run_bot(tmp_path, "serve")
    assert result.returncode == 2 and "BOT_ADMIN_LISTEN" in result.stderr
