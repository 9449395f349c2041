"""The console's merchants search: one page from SQL over every merchant, against what the page
did before, reading the 2000 most recently active merchants (with their documents,
certifications and handoffs) and matching the company and the legal representative in Python.

    .venv/bin/python bench/bench_console.py [--merchants 20000] [--rounds 5] [--json]

Both run in the same process on one SQLite database filled with ``--merchants`` merchants
(Chinese and English company names, a document each); each figure is the median of ``--rounds``
searches for a Chinese part of a name. The SQL search reads ten times as many merchants and
still answers faster; its target is to take at most the old page's time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

from bench.report import emit, figure  # noqa: E402
from bot.store import console  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.store.models import Document, Merchant  # noqa: E402

TARGET = 1.0
OLD_LIMIT = 2000
QUERY = "远山"


def merchant_rows(count: int, start: datetime) -> list[dict]:
    rows = []
    for n in range(count):
        company = (f"杭州远山机械有限公司{n}号厂" if n % 7 == 0 else
                   f"宁波海岸贸易有限公司{n}" if n % 2 else f"Shenzhen Bright Lamps {n} Co., Ltd.")
        state = {"flow": "basic", "step": "license", "answers": {
            "company_name": company, "legal_rep_name": "张伟" if n % 3 else "Li Wei"}}
        moment = start + timedelta(minutes=n)
        rows.append({"channel": "telegram", "user_key": str(n), "locale": "zh_CN",
                     "timezone": "Asia/Shanghai", "state": state, "version": 1,
                     "created_at": moment, "updated_at": moment})
    return rows


async def fill(db: Database, count: int) -> None:
    start = datetime(2026, 1, 1)
    async with db.session() as session, session.begin():
        rows = merchant_rows(count, start)
        for chunk in range(0, count, 2000):
            await session.execute(insert(Merchant), rows[chunk:chunk + 2000])
        ids = list(await session.scalars(select(Merchant.id)))
        await session.execute(insert(Document), [
            {"merchant_id": i, "category": "business_license", "step": "basic.license",
             "name": "营业执照.jpg", "kind": "jpg", "size": 1000, "sha256": f"{i:064x}",
             "created_at": start} for i in ids])


async def old_page(db: Database) -> int:
    """The former page: the latest 2000 with their records, then a match in Python."""
    listing = await console.merchants(db, offset=0, limit=OLD_LIMIT)
    wanted = QUERY.casefold()
    found = [r for r in listing.rows if any(
        wanted in str((r.merchant.state.get("answers") or {}).get(k) or "").casefold()
        for k in ("company_name", "legal_rep_name"))]
    return len(found)


async def sql_page(db: Database) -> int:
    listing = await console.merchants(db, console.Filter(QUERY), limit=console.PAGE_SIZE)
    return listing.total


async def timed(call, db: Database, rounds: int) -> float:
    await call(db)  # warm the page cache
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call(db)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def main(merchants: int, rounds: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as directory:
        db = Database(f"sqlite+aiosqlite:///{Path(directory) / 'bot.db'}")
        await db.migrate()
        await fill(db, merchants)
        matching = await sql_page(db)
        old = await timed(old_page, db, rounds)
        new = await timed(sql_page, db, rounds)
        await db.close()
    print(f"{merchants} merchants, {matching} match {QUERY!r}: SQL page over all {new:.1f} ms, "
          f"former page over the latest {OLD_LIMIT} {old:.1f} ms", file=sys.stderr)
    return [figure("console_search_page", "ms", new, f"python_over_latest_{OLD_LIMIT}", old,
                   TARGET)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--merchants", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(main(args.merchants, args.rounds))
    if args.json:
        emit(rows)
    else:
        for row in rows:
            print(f"{row['name']}: {row['value']} {row['unit']} (baseline {row['baseline']} "
                  f"{row['unit']}, ratio {row['ratio']}, target <= {row['target']})")
