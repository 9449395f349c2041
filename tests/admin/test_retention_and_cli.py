"""Transcripts follow BOT_RETENTION_DAYS; the console's users are managed from the command
line, the password read from standard input and never from an argument."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from functools import partial

from dbkit import read

from bot.documents.outbox import Outbox
from bot.documents.retention import sweep
from bot.store import console as store
from bot.store.models import Base
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


def run_bot(tmp_path, *args, stdin: str = "", database_url: str | None = None):
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_LOG_LEVEL": "WARNING"}
    env.pop("BOT_DATABASE_URL", None)
    if database_url is not None:
        env["BOT_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "bot", "admin", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_users_from_the_command_line(tmp_path, database_url):
    admin = partial(run_bot, tmp_path, database_url=database_url)
    added = admin("add-user", "lin", "--role", "operator", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    assert admin("add-user", "wang", "--role", "admin",
                 stdin=PASSWORD + "\n").returncode == 0
    short = admin("add-user", "zhao", "--role", "admin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    bad_role = admin("add-user", "zhao", "--role", "root", stdin=PASSWORD)
    assert bad_role.returncode == 2

    listed = admin("list-users")
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["lin", "operator"], ["wang", "admin"]]
    assert len(read(database_url, "SELECT * FROM staff_users")) == 2
    for table in Base.metadata.sorted_tables:  # only its scrypt hash is stored, anywhere
        assert PASSWORD not in repr(read(database_url, f"SELECT * FROM {table.name}"))

    assert admin("remove-user", "lin").returncode == 0
    assert admin("remove-user", "lin").returncode == 1
    assert admin("list-users").stdout.split("\t")[0] == "wang"


def test_serve_needs_an_address(tmp_path):
    result = run_bot(tmp_path, "serve")
    assert result.returncode == 2 and "BOT_ADMIN_LISTEN" in result.stderr
