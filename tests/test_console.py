"""Whole conversations through ``python -m bot chat --json`` in a subprocess."""

import io
import json

import pytest
from openpyxl import Workbook
from pypdf import PdfWriter

from chat import Chat, scan

ID = "11010519491231002X"
MASKED = "1101**********002X"


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "files-to-send"
    folder.mkdir()
    pdf = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(pdf)
    (folder / "licence.pdf").write_bytes(pdf.getvalue())
    book = Workbook()
    book.active.append(["order", "value"])
    book.active.append(["2026-001", 12000])
    book.save(folder / "report.xlsx")
    (folder / "empty.png").write_bytes(b"")
    (folder / "fake.png").write_bytes(pdf.getvalue())  # a PDF with an image's name
    (folder / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024))
    for name in ("license.png", "line.jpg", "store.jpg", "machine.jpg"):
        scan(folder / name, fmt="JPEG" if name.endswith("jpg") else "PNG",
             size=(1200 + len(name), 850))
    return folder


@pytest.fixture
def chat(tmp_path):
    opened = []

    def open_chat(user="merchant", lang=None):
        c = Chat(tmp_path / "data", user=user, lang=lang)
        opened.append(c)
        return c

    yield open_chat
    for c in opened:
        c.close()


def refused(c, step, send):
    """Send something wrong: the bot explains and stays at the same question."""
    before = c.step
    send()
    assert c.step == before == step, c.said
    return c.said


def basic_until_id(c, files):
    c.choose("basic")
    assert c.step == "basic.company_name"
    c.text("宁波海岸贸易有限公司")
    c.file(files / "license.png")
    c.text("长期")
    c.text("91350100M000100Y43")
    c.text("张伟")
    assert c.step == "basic.legal_id"


def test_basic_certification_in_chinese_with_every_refusal(chat, files, tmp_path):
    c = chat(lang="zh_CN")
    assert c.step == "menu.main"
    assert "basic" in c.choices
    c.choose("basic")
    assert "第 1 题" in c.said or "1/" in c.said or "共" in c.said
    assert "My Alibaba › 企业管理 › 认证中心 › 基本认证" in c.said
    refused(c, "basic.company_name", lambda: c.text("1"))
    c.text("宁波海岸贸易有限公司")
    assert c.last["expects"]["accept"] == ["jpg", "png"]
    assert "PDF" in refused(c, "basic.license", lambda: c.file(files / "fake.png"))
    refused(c, "basic.license", lambda: c.file(files / "empty.png"))
    assert "10 MB" in refused(c, "basic.license", lambda: c.file(files / "huge.png"))
    good = (files / "license.png").read_bytes()
    (files / "cut.png").write_bytes(good[: len(good) // 2])
    refused(c, "basic.license", lambda: c.file(files / "cut.png"))
    refused(c, "basic.license", lambda: c.file(files / "missing.png"))
    refused(c, "basic.license", lambda: c.text("我没有扫描件"))
    c.file(files / "license.png")
    assert c.step == "basic.license_end"
    refused(c, "basic.license_end", lambda: c.text("2020年1月1日"))  # expired: F-DOC-1
    c.text("2035-06-30")
    assert c.step == "basic.uscc"
    refused(c, "basic.uscc", lambda: c.text("91350100M000100Y44"))  # check character wrong
    refused(c, "basic.uscc", lambda: c.text("9135010"))
    c.text("91350100m000100y43")
    refused(c, "basic.legal_name", lambda: c.text("张3"))
    c.text("张伟")
    said = refused(c, "basic.legal_id", lambda: c.text("110105194912310021"))
    assert "110105194912310021" not in said
    refused(c, "basic.legal_id", lambda: c.text("110105491231002"))  # the old 15 digits
    c.text(ID)
    assert c.step == "basic.email"
    refused(c, "basic.email", lambda: c.text("sales.example.com"))
    c.text("sales@example.com")
    refused(c, "basic.phone", lambda: c.text("12345"))
    c.text("138 0013 8000")
    assert c.step == "basic.tax_cert" and "done" in c.choices
    c.text("/status")
    assert MASKED in c.said and ID not in c.said
    c.choose("done")
    c.choose("done")
    assert c.step == "menu.main"
    assert MASKED in c.said and ID not in c.said
    assert "宁波海岸贸易有限公司" in c.said
    assert "【确认上传】" in c.said
    assert "1–3" in c.said
    c.close()
    stored = list((tmp_path / "data" / "files").rglob("*.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == (files / "license.png").read_bytes()


def test_a_restart_continues_exactly_where_the_merchant_stopped(chat, files):
    c = chat(lang="en")
    c.choose("basic")
    c.text("Ningbo Coast Trading Co., Ltd.")
    c.file(files / "license.png")
    c.text("long-term")
    assert c.step == "basic.uscc"
    c.close()
    again = chat()
    assert again.step == "basic.uscc"
    assert "Welcome back" in again.said
    again.text("/status")
    assert "Ningbo Coast Trading Co., Ltd." in again.said and "license.png" in again.said
    again.text("91350100M000100Y43")
    assert again.step == "basic.legal_name"


def test_language_switch_mid_flow_keeps_the_answers(chat, files):
    c = chat(lang="en")
    c.choose("basic")
    c.text("Ningbo Coast Trading Co., Ltd.")
    assert "business license" in c.said
    c.text("/lang")
    assert c.step == "basic.license"
    assert "营业执照" in c.said and "business license" not in c.said
    c.text("/status")
    assert "Ningbo Coast Trading Co., Ltd." in c.said
    c.text("/lang")
    assert "business license" in c.said


def test_back_edits_an_earlier_answer(chat, files):
    c = chat(lang="en")
    basic_until_id(c, files)
    c.text("/back")
    assert c.step == "basic.legal_name"
    assert "张伟" in c.said and set(c.choices) == {"keep", "change"}
    c.text("李娜")
    assert c.step == "basic.legal_id"
    c.text("/status")
    assert "李娜" in c.said and "张伟" not in c.said


def test_unreadable_lines_are_explained_and_change_nothing(chat):
    c = chat(lang="en")
    c.choose("basic")
    c.send(nonsense=1)
    assert c.step == "basic.company_name" and '{"text"' in c.said
    c.proc.stdin.write("this is not json\n")
    c.proc.stdin.flush()
    c.last = c.receive()
    assert c.step == "basic.company_name"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_strength_merchant_ready(chat, files, lang):
    c = chat(lang=lang)
    c.choose("strength")
    c.choose("passed")
    c.choose("both")
    c.choose("gold")
    refused(c, "strength.exports", lambda: c.text("很多"))
    refused(c, "strength.exports", lambda: c.text("-5"))
    c.text("80万美元")
    refused(c, "strength.response_rate", lambda: c.text("120%"))
    c.text("95%")
    refused(c, "strength.rating", lambda: c.text("6"))
    c.text("4.8")
    assert c.step == "strength.apply_now"  # a merchant who wanted the check alone stops here
    c.choose("apply")
    assert c.step == "strength.transaction_report"
    assert c.last["expects"]["accept"] is not None and "xlsx" in c.last["expects"]["accept"]
    refused(c, "strength.transaction_report", lambda: c.file(files / "license.png"))
    c.file(files / "report.xlsx")
    if c.step == "strength.transaction_report":
        c.choose("done")
    assert c.step == "strength.extras"
    c.choose("done")
    assert c.step == "menu.main"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_strength_merchant_gaps_name_each_unmet_condition(chat, lang):
    c = chat(lang=lang)
    c.choose("strength")
    c.choose("not_yet")
    c.choose("none")
    c.choose("free")
    c.text("$100k")
    c.text("0.8")
    c.text("4.2星")
    assert c.step == "strength.after_gaps"
    said = c.said
    for figure in ("90%", "4.5", "50 万美元" if lang == "zh_CN" else "USD 500,000"):
        assert figure in said, figure
    assert "P4P" in said and "RFQ" in said
    c.choose("menu")
    assert c.step == "menu.main"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_factory_certification_to_its_end(chat, files, lang):
    c = chat(lang=lang)
    c.choose("factory")
    assert c.step == "factory.production_line"
    assert c.last["expects"]["max_files"] == 10
    c.file(files / "line.jpg")
    c.choose("done")
    c.file(files / "store.jpg")
    c.choose("done")
    c.file(files / "machine.jpg")
    c.choose("done")
    refused(c, "factory.production_licence", lambda: c.file(files / "report.xlsx"))
    c.file(files / "licence.pdf")
    if c.step == "factory.production_licence":
        c.choose("done")
    assert c.step == "factory.iso"
    c.choose("done")  # no ISO certificate
    c.choose("sgs")
    c.choose("yes")
    refused(c, "factory.inspection_date", lambda: c.text("2027-02-30"))
    c.text("2027年5月1日")
    assert c.step == "menu.main"
    assert "SGS" in c.said


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_trade_capability_to_its_end(chat, files, lang):
    c = chat(lang=lang)
    c.choose("trade")
    c.file(files / "report.xlsx")
    c.choose("done")
    c.choose("done")
    c.choose("done")
    assert c.step == "trade.what_next"
    c.choose("continue")
    assert c.step == "menu.main"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_review_status_rejection_gets_next_steps_and_is_remembered(chat, lang):
    c = chat(lang=lang)
    c.choose("status")
    c.choose("basic")
    c.choose("rejected")
    c.choose("expired")
    assert c.step == "menu.main"
    assert "帮助中心" in c.said
    c.text("/status")
    assert "未通过" in c.said


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_renewal_with_a_long_term_license(chat, lang):
    c = chat(lang=lang)
    c.choose("renewal")
    c.choose("both")
    c.choose("enter")
    refused(c, "renewal.license_end", lambda: c.text("明年"))
    c.text("长期")
    assert c.step == "menu.main"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_faq_answers_and_returns(chat, lang):
    c = chat(lang=lang)
    c.choose("faq")
    for question in ("rejected", "badge", "fees"):
        c.choose(question)
        assert c.step == "faq.ask"
    assert "帮助中心" in c.said or "转账" in c.said or "bank transfer" in c.said
    c.choose("menu")
    assert c.step == "menu.main"


def test_output_is_one_json_object_per_line(chat):
    c = chat(lang="en")
    reply = c.choose("where")
    assert set(reply) == {"replies", "expects"}
    assert set(reply["expects"]) == {"kind", "step", "validator", "accept", "max_bytes",
                                     "max_files"}
    assert all(set(r) >= {"text", "choices"} for r in reply["replies"])
    assert "https://work.alibaba.com" in c.said
    json.dumps(reply)


def test_an_amount_without_currency_is_said_back_as_dollars(chat):
    c = chat(lang="zh_CN")
    c.choose("strength")
    c.choose("passed")
    c.choose("both")
    c.choose("gold")
    c.text("300万")
    assert c.step == "strength.response_rate"
    assert "按美元理解" in c.said and "/back" in c.said
