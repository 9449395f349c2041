"""The documents desk through the real service and SQLite: /package (ZIP, checklist, PDF),
the smaller copy of a large scan, /delete, ID numbers encrypted at rest, retention."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from dbkit import read
from pypdf import PdfReader
from sqlalchemy import func, select

from bot.config import Settings
from bot.content import load_guide
from bot.documents import install
from bot.documents.outbox import Outbox
from bot.documents.privacy import Sealer
from bot.documents.retention import sweep
from bot.engine import images
from bot.engine.model import Choose, Hello, Text, Upload
from bot.service import Service
from bot.store.db import Database
from bot.store.files import FileStore
from bot.store.models import Certification, Document, Merchant, Milestone
from tests.documents import samples

ID = "11010519491231002X"
MASKED = "1101**********002X"
COMPANY = "宁波海岸贸易有限公司"
START = datetime(2026, 11, 29, 2, 0)  # naive UTC, 10:00 in Shanghai


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture
async def desk(tmp_path, guide, database_url):
    """(service, settings): the service as the app builds it, with an encryption key."""
    settings = Settings(_env_file=None, bot_data_dir=tmp_path / "data",
                        bot_database_url=database_url,
                        bot_encryption_key=Fernet.generate_key().decode())
    db = Database(settings.database_url)
    await db.migrate()
    service = Service(guide, db, FileStore(settings.files_dir), clock=Clock())
    install(service, settings)
    yield service, settings
    await db.close()


class Merchant_:
    def __init__(self, service, user="m1", locale="zh_CN"):
        self.service, self.user, self.locale = service, user, locale
        self.result = None

    async def __call__(self, event):
        if isinstance(event, str):
            event = Text(event)
        self.result = await self.service.handle("console", self.user, event, locale=self.locale)
        self.locale = None
        return self.result

    @property
    def text(self):
        return "\n".join(r.text for r in self.result.replies)

    @property
    def step(self):
        return self.result.expects.step


async def basic_and_factory(m: Merchant_):
    await m(Hello())
    await m(Choose("basic"))
    await m(COMPANY)
    await m(Upload(samples.scan(seed=7), "license.png"))
    await m("长期")
    await m("91330106MA2B3C4D5D")
    await m("张伟")
    await m(ID)
    await m("sales@example.com")
    await m("+86 138 0013 8000")
    await m(Upload(samples.pdf_bytes(), "tax.pdf"))
    await m(Choose("done"))  # organisation code: none
    assert m.step == "menu.main"
    await m(Choose("factory"))
    await m(Upload(samples.photo(1), "IMG_1.jpg"))
    await m(Upload(samples.photo(2), "IMG_2.jpg"))
    await m(Choose("done"))
    await m(Upload(samples.photo(3), "IMG_3.jpg"))
    await m(Choose("done"))
    await m(Upload(samples.photo(4), "IMG_4.jpg"))
    await m(Choose("done"))
    await m(Upload(samples.pdf_bytes(2), "licence.pdf"))
    await m(Choose("done"))
    assert m.step == "factory.iso"


UPLOADED = {
    "01_营业执照.png": lambda: samples.scan(seed=7),
    "02_税务登记证.pdf": samples.pdf_bytes,
    "03_生产许可证.pdf": lambda: samples.pdf_bytes(2),
    "生产线_1.jpg": lambda: samples.photo(1),
    "生产线_2.jpg": lambda: samples.photo(2),
    "仓库_1.jpg": lambda: samples.photo(3),
    "设备_1.jpg": lambda: samples.photo(4),
}


def documents_of(result):
    return [r.document for r in result.replies if r.document is not None]


# -- /package -----------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_package_holds_exactly_the_accepted_files_named_for_upload(desk, locale):
    service, _ = desk
    m = Merchant_(service, locale=locale)
    await basic_and_factory(m)
    await m(Upload(samples.scan(blur=3), "blurred.png"))  # refused: not in the package
    result = await m("/package")
    assert m.step == "factory.iso"  # the question is repeated after the package
    archive, printable = documents_of(result)
    assert archive.name.endswith(".zip") and printable.name.endswith(".pdf")
    with zipfile.ZipFile(archive.path) as zf:
        assert sorted(zf.namelist()) == sorted(UPLOADED)
        for name, make in UPLOADED.items():
            assert zf.read(name) == make(), name
    checklist = result.replies[0].text
    for name in UPLOADED:
        assert name in checklist
    assert MASKED in checklist and ID not in checklist
    assert "认证中心" in checklist and COMPANY in checklist
    if locale == "zh_CN":
        assert "材料清单" in checklist and "组织机构代码证" in checklist
        assert "生产线_1.jpg、生产线_2.jpg" in checklist  # a Chinese list
    else:
        assert "生产线_1.jpg, 生产线_2.jpg" in checklist
        assert "Materials checklist" in checklist and "Organisation code certificate" in checklist


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_the_checklist_pdf_prints_the_chinese(desk, locale):
    service, _ = desk
    m = Merchant_(service, locale=locale)
    await basic_and_factory(m)
    result = await m("/package")
    (printable,) = [d for d in documents_of(result) if d.name.endswith(".pdf")]
    data = Path(printable.path).read_bytes()
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert COMPANY in text and "营业执照" in text and "生产线_1.jpg" in text
    assert MASKED in text and ID not in text
    title = result.replies[0].text.splitlines()[0]
    assert title.split(" · ")[0] in text
    assert reader.metadata.title


async def test_package_before_any_file_sends_the_checklist_only(desk):
    service, _ = desk
    m = Merchant_(service, locale="en")
    await m(Hello())
    result = await m("/package")
    assert [d.name.endswith(".pdf") for d in documents_of(result)] == [True]
    assert "×" in result.replies[0].text  # the license is missing


async def test_checklist_reports_figures_and_what_to_fix(desk):
    service, _ = desk
    m = Merchant_(service, locale="en")
    await m(Hello())
    await m(Choose("strength"))
    for choice in ("passed", "factory", "gold"):
        await m(Choose(choice))
    await m("USD 800,000")
    await m("95%")
    await m("4.8")
    await m("/cancel")
    await m(Choose("renewal"))
    await m(Choose("enterprise"))
    await m(Choose("enter"))
    await m("2026-12-20")  # expires in 21 days: warned
    result = await m("/package")
    checklist = result.replies[0].text
    assert "Figures you reported" in checklist
    assert "US$800,000" in checklist or "800,000" in checklist
    assert "95%" in checklist and "4.8" in checklist
    assert "December 20, 2026" in checklist and "21 days" in checklist


# -- a smaller copy --------------------------------------------------------------------------------


async def test_a_large_scan_comes_back_smaller_and_sharp_and_replaces_the_original(desk):
    service, settings = desk
    m = Merchant_(service, locale="zh_CN")
    await m(Hello())
    await m(Choose("basic"))
    await m(COMPANY)
    big = samples.large_scan()
    result = await m(Upload(big, "license.jpg"))
    assert "docs:smaller:business_license" in [c.id for r in result.replies for c in r.choices]
    async with service.db.session() as session:
        (before,) = (await session.scalars(select(Document))).all()
    result = await m(Choose("docs:smaller:business_license"))
    (copy,) = documents_of(result)
    assert copy.name == "营业执照.jpg"
    data = Path(copy.path).read_bytes()
    assert len(data) < 2 * 1024 * 1024
    assert images.sharpness(images.grey(images.decode(data, "jpg"))) >= images.SHARP_MIN
    async with service.db.session() as session:
        (after,) = (await session.scalars(select(Document))).all()
    assert after.id == before.id and after.size == len(data) and after.kind == "jpg"
    assert FileStore(settings.files_dir).locate(after.storage).read_bytes() == data
    assert not FileStore(settings.files_dir).locate(before.storage).exists()
    assert m.step == "basic.license_end"  # the conversation goes on where it was


async def test_asking_for_a_smaller_copy_of_a_small_scan_changes_nothing(desk):
    service, _ = desk
    m = Merchant_(service, locale="en")
    await m(Hello())
    await m(Choose("basic"))
    await m(COMPANY)
    await m(Upload(samples.scan(), "license.png"))
    result = await m(Choose("docs:smaller:business_license"))
    assert "already under" in result.replies[0].text and not documents_of(result)


# -- privacy -----------------------------------------------------------------------------------------


def raw_state(settings, user="m1") -> str:
    (state,) = read(settings.database_url, "SELECT state FROM merchants WHERE user_key = :user",
                    user=user)[0]
    return state if isinstance(state, str) else json.dumps(state, ensure_ascii=False)


async def test_id_numbers_are_encrypted_at_rest_and_shown_masked(desk):
    service, settings = desk
    m = Merchant_(service, locale="en")
    await basic_and_factory(m)
    stored = raw_state(settings)
    assert ID not in stored and "sealed" in stored and MASKED in stored
    assert service.unseal(json.loads(stored))["answers"]["legal_rep_id"]["number"] == ID
    # Restarted with the key rotated: the old key still opens what it sealed.
    sealer = Sealer(MultiFernet([Fernet(Fernet.generate_key()),
                                 Fernet(settings.bot_encryption_key.get_secret_value())]))
    state = json.loads(stored)
    assert sealer.unseal(state)["answers"]["legal_rep_id"]["number"] == ID
    # Without the right key the number comes back masked, never raises.
    stranger = Sealer(MultiFernet([Fernet(Fernet.generate_key())]))
    assert stranger.unseal(state)["answers"]["legal_rep_id"] == {"kind": "id_card",
                                                                  "number": MASKED}


async def test_without_a_key_nothing_changes(tmp_path, guide, database_url):
    settings = Settings(_env_file=None, bot_data_dir=tmp_path / "plain",
                        bot_database_url=database_url)
    db = Database(settings.database_url)
    await db.migrate()
    service = Service(guide, db, FileStore(settings.files_dir))
    install(service, settings)
    state = {"answers": {"legal_rep_id": {"kind": "id_card", "number": ID}}}
    assert service.seal(state) is state and service.unseal(state) is state
    await db.close()


async def count(service, model, **where):
    async with service.db.session() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return await session.scalar(query)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
async def test_delete_erases_everything_after_a_confirmation(desk, locale):
    service, settings = desk
    m = Merchant_(service, locale=locale)
    other = Merchant_(service, user="m2", locale="en")
    await other(Hello())
    await other(Choose("basic"))
    await other(COMPANY)
    await other(Upload(samples.scan(seed=7), "same-bytes.png"))  # equal content, other owner
    await basic_and_factory(m)
    await m(Choose("done"))  # no ISO certificate
    await m("/menu")
    await m(Choose("status"))
    await m("/package")
    async with service.db.session() as session:
        merchant = await session.scalar(select(Merchant).where(Merchant.user_key == "m1"))
        merchant_id = merchant.id
        session.add(Certification(merchant_id=merchant.id, kind="basic", status="passed",
                                  reason=None, updated_at=START))
        session.add(Milestone(merchant_id=merchant.id, subject="license", status=None,
                              submitted_on=None, passed_on=None, rejected_on=None,
                              renewed_through=None, due_on=None, review_on=None,
                              updated_at=START))
        await session.commit()
    files = FileStore(settings.files_dir)
    before = {name for name, _ in files.names()}
    assert len(before) == 8  # seven of m1, one of m2
    asked = await m("/delete")
    (yes, no) = [c.id for r in asked.replies for c in r.choices][:2]
    assert yes.startswith("docs:delete:") and no == "docs:keep"
    await m(Choose(no))
    assert await count(service, Document, merchant_id=merchant_id) == 7
    service.clock.now += timedelta(minutes=11)
    await m(Choose(yes))  # too late: asked more than ten minutes ago
    assert await count(service, Document, merchant_id=merchant_id) == 7
    asked = await m("/delete")
    yes = next(c.id for r in asked.replies for c in r.choices)
    await m(Choose(yes))
    assert m.step == "menu.main"
    for model in (Document, Certification, Milestone):
        assert await count(service, model, merchant_id=merchant_id) == 0
    assert await count(service, Document) == 1  # the other merchant's
    after = {name for name, _ in files.names()}
    assert len(after) == 1 and after < before
    assert not Outbox(settings.outbox_dir).folder(merchant_id).exists()
    state = json.loads(raw_state(settings))
    assert state["answers"] == {} and ID not in raw_state(settings)
    result = await m("/status")
    assert m.step == "menu.main" and COMPANY not in "\n".join(r.text for r in result.replies)


# -- retention ------------------------------------------------------------------------------------


async def test_retention_removes_files_of_inactive_merchants_orphans_and_old_handovers(desk):
    service, settings = desk
    files, outbox = FileStore(settings.files_dir), Outbox(settings.outbox_dir)
    old = Merchant_(service, user="old", locale="en")
    await old(Hello())
    await old(Choose("basic"))
    await old(COMPANY)
    await old(Upload(samples.scan(seed=1), "license.png"))
    await old("/package")
    service.clock.now += timedelta(days=40)
    recent = Merchant_(service, user="recent", locale="en")
    await recent(Hello())
    await recent(Choose("basic"))
    await recent(COMPANY)
    await recent(Upload(samples.scan(seed=2), "license.png"))
    orphan = files.store("png", b"left behind by a crash")
    hour_ago = time.time() - 7200
    os.utime(files.locate(orphan), (hour_ago, hour_ago))
    for path in outbox.root.glob("m*/*"):
        os.utime(path, (time.time() - 2 * 86400,) * 2)
    swept = await sweep(service.db, files, outbox, days=30, now=service.clock.now)
    assert (swept.merchants, swept.files, swept.orphans) == (1, 1, 1)
    assert swept.handed_over >= 2
    assert await count(service, Document) == 1
    async with service.db.session() as session:
        (kept,) = (await session.scalars(select(Document))).all()
    assert [name for name, _ in files.names()] == [kept.storage]
    result = await old(Text("/status"))
    assert result.expects.step == "basic.license_end"  # the conversation stays where it was
    assert "Business license scan" in result.replies[0].text.split("Still missing")[1]


def test_settings_as_in_env_example_and_a_bad_key(monkeypatch):
    monkeypatch.setenv("BOT_ENCRYPTION_KEY", "")
    monkeypatch.setenv("BOT_RETENTION_DAYS", "")
    settings = Settings(_env_file=None)
    assert settings.bot_retention_days is None
    monkeypatch.setenv("BOT_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
