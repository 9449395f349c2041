"""The guide's side of a read license, on the real basic flow, in both languages: what it says,
正确 / 修改, skipped questions, and typed answers that differ from the scan. The read itself is
given as the ``ScanRead`` event the reader sends (the reader is tested in test_license_reader.py)."""

from __future__ import annotations

import hashlib

import pytest

from bot.content import load_guide
from bot.engine.license import LicenseFields
from bot.engine.model import Choose, ScanRead, Upload
from bot.engine.scan import EDIT, OK, SCAN, UNREADABLE
from bot.engine.validators import uscc_check_char
from tests.license import kit
from tests.talk import Talk

LANGS = ["zh_CN", "en"]
CODE = kit.valid_code()
READ = LicenseFields(company_name="宁波海岸贸易有限公司", uscc=CODE, legal_rep_name="张伟",
                     license_end_date="2035-03-11", legal_title="legal_representative")
pytestmark = pytest.mark.skipif(kit.cjk_font_path() is None, reason="no CJK font installed")


@pytest.fixture(scope="module")
def guide():
    return load_guide()


@pytest.fixture(scope="module")
def scan_bytes():
    return kit.png(kit.draw())


def uploaded(guide, locale, data, company="宁波海岸贸易有限公司"):
    talk = Talk(guide, locale)
    talk(Choose("basic"))
    talk(company)
    talk(Upload(data, "license.png"))
    assert talk.step == "basic.license_end", talk.text
    return talk, hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("locale", LANGS)
def test_the_read_fields_come_in_one_message_with_correct_and_edit(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    talk(ScanRead(sha, READ))
    assert len(talk.out.replies) == 1
    for value in ("宁波海岸贸易有限公司", CODE, "张伟", "2035-03-11"):
        assert value in talk.text
    labels = [c.label for r in talk.out.replies for c in r.choices]
    assert talk.choices == [OK, EDIT]
    assert labels == (["正确", "修改"] if locale == "zh_CN" else ["Correct", "Edit"])
    assert ("法定代表人：张伟" if locale == "zh_CN" else "Legal representative (法定代表人): 张伟") in talk.text
    assert talk.step == "basic.license_end"  # the question under way is unchanged


@pytest.mark.parametrize("locale", LANGS)
def test_correct_fills_the_answers_and_skips_their_questions(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    talk(ScanRead(sha, READ))
    talk(Choose(OK))
    answers = talk.state.answers
    assert answers["license_end_date"] == "2035-03-11" and answers["uscc"] == CODE
    assert answers["legal_rep_name"] == "张伟"
    assert talk.step == "basic.legal_id"  # end date, credit code, legal name: all skipped
    talk("/back")  # a skipped question is still reachable, offered with the read value
    assert talk.step == "basic.legal_name" and "张伟" in talk.text


@pytest.mark.parametrize("locale", LANGS)
def test_correct_is_also_understood_typed(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    talk(ScanRead(sha, READ))
    talk("正确" if locale == "zh_CN" else "correct")
    assert talk.step == "basic.legal_id"


@pytest.mark.parametrize("locale", LANGS)
def test_edit_asks_the_questions_and_points_out_a_code_one_character_off(
        guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    talk(ScanRead(sha, READ))
    talk(Choose(EDIT))
    assert talk.step == "basic.license_end" and "uscc" not in talk.state.answers
    talk("2035-03-11")
    typo = CODE[:5] + ("7" if CODE[5] != "7" else "8") + CODE[6:]
    before = talk.state
    talk(typo)  # one character off fails the check character: refused, and shown where
    assert talk.step == "basic.uscc" and talk.state == before
    assert typo in talk.text and CODE in talk.text
    assert ("第 6 位" if locale == "zh_CN" else "character 6") in talk.text
    other = "91110000MA01ABCD2" + uscc_check_char("91110000MA01ABCD2")
    talk(other)  # a valid code, but another one than the license's: a note, not a refusal
    assert talk.step == "basic.legal_name" and other in talk.text and CODE in talk.text


@pytest.mark.parametrize("locale", LANGS)
def test_a_company_name_typed_before_the_read_is_compared_with_the_license(
        guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes, company="宁波海港贸易有限公司")
    talk(ScanRead(sha, READ))
    assert "宁波海港贸易有限公司" in talk.text and "宁波海岸贸易有限公司" in talk.text
    assert ("营业执照扫描件上是" if locale == "zh_CN" else "the license scan reads") in talk.text
    talk(Choose(OK))  # the license is right: its name becomes the answer
    assert talk.state.answers["company_name"] == "宁波海岸贸易有限公司"


@pytest.mark.parametrize("locale", LANGS)
def test_a_legal_name_typed_after_edit_that_differs_is_pointed_out(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    talk(ScanRead(sha, READ))
    talk(Choose(EDIT))
    talk("2035-03-11")
    talk(CODE)
    assert "differs" not in talk.text
    talk("张玮")
    assert "张玮" in talk.text and "张伟" in talk.text and talk.step == "basic.legal_id"


@pytest.mark.parametrize("locale", LANGS)
def test_a_code_with_a_wrong_check_character_is_not_used(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    fields = LicenseFields(company_name="宁波海岸贸易有限公司", legal_rep_name="张伟",
                           license_end_date="2035-03-11", uscc_unchecked=True)
    talk(ScanRead(sha, fields))
    assert ("校验位" if locale == "zh_CN" else "check character") in talk.text
    talk(Choose(OK))
    assert "uscc" not in talk.state.answers
    assert talk.step == "basic.uscc"  # the end date was taken; the code is asked


@pytest.mark.parametrize("locale", LANGS)
def test_an_unreadable_scan_gets_one_line_and_the_questions_as_before(
        guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    before = talk.state
    talk(ScanRead(sha, None))
    assert [r.text for r in talk.out.replies] == [talk.t(UNREADABLE)]
    assert talk.state == before and talk.step == "basic.license_end"
    talk(ScanRead(sha, LicenseFields(company_name="宁波海岸贸易有限公司")))  # one field: too little
    assert talk.text == talk.t(UNREADABLE) and SCAN not in talk.state.answers


@pytest.mark.parametrize("locale", LANGS)
def test_an_expired_term_is_said_and_not_taken(guide, scan_bytes, locale):
    talk, sha = uploaded(guide, locale, scan_bytes)
    old = LicenseFields(company_name="宁波海岸贸易有限公司", uscc=CODE, legal_rep_name="张伟",
                        license_end_date="2020-03-11")
    talk(ScanRead(sha, old))
    assert ("已于" if locale == "zh_CN" else "expired on") in talk.text
    talk(Choose(OK))
    assert "license_end_date" not in talk.state.answers and talk.step == "basic.license_end"


def test_long_term_is_shown_and_taken(guide, scan_bytes):
    talk, sha = uploaded(guide, "zh_CN", scan_bytes)
    talk(ScanRead(sha, LicenseFields(company_name="宁波海岸贸易有限公司", uscc=CODE,
                                     license_end_date="long_term")))
    assert "长期" in talk.text
    talk(Choose(OK))
    assert talk.state.answers["license_end_date"] == "long_term"
    assert talk.step == "basic.legal_name"


def test_a_read_of_a_replaced_scan_is_ignored(guide, scan_bytes):
    talk, _ = uploaded(guide, "en", scan_bytes)
    before = talk.state
    talk(ScanRead("0" * 64, READ))
    assert talk.out.replies == [] and talk.state == before


def test_a_second_press_of_correct_changes_nothing(guide, scan_bytes):
    talk, sha = uploaded(guide, "en", scan_bytes)
    talk(ScanRead(sha, READ))
    talk(Choose(OK))
    answers = dict(talk.state.answers)
    talk(Choose(OK))
    assert talk.step == "basic.legal_id" and talk.state.answers == answers
    assert "earlier question" in talk.text
