"""The recogniser on licenses the tests draw (CJK font, the fields where a real license has
them): each field read, a bilingual license, a page turned sideways, a blurred one, a code with
a wrong check character; and the worker process's time bound."""

from __future__ import annotations

import pytest

from bot.license.ocr import Reader
from tests.license import kit

pytestmark = pytest.mark.skipif(kit.cjk_font_path() is None, reason="no CJK font installed")
EXPECTED = {"company_name": "宁波海岸贸易有限公司", "uscc": kit.valid_code(),
            "legal_rep_name": "张伟", "license_end_date": "2035-03-11"}


def test_every_field_of_a_license_is_read():
    read = kit.read("plain", kit.draw())
    assert read.found == EXPECTED and read.legal_title == "legal_representative"


def test_a_bilingual_license_is_read():
    read = kit.read("bilingual", kit.draw(kit.License(english=True)))
    assert read.found == EXPECTED


def test_a_license_photographed_sideways_is_read_turned():
    read = kit.read("rotated", kit.rotated(kit.draw(kit.License(
        title="负责人", term="2015年03月12日至长期"))))
    assert read.found == {**EXPECTED, "license_end_date": "long_term"}
    assert read.legal_title == "person_in_charge"


def test_a_blurred_license_is_not_readable():
    read = kit.read("blurred", kit.blurred(kit.draw()))
    assert not read.readable and read.found == {}


def test_a_code_with_a_wrong_check_character_is_reported_not_used():
    read = kit.read("wrong", kit.draw(kit.License(code=kit.wrong_code())))
    assert read.uscc is None and read.uscc_unchecked
    assert read.company_name == EXPECTED["company_name"] and read.readable


async def test_a_read_over_its_time_bound_is_given_up_and_the_next_one_works():
    reader = Reader(timeout=0.05)
    try:
        assert await reader.read(kit.png(kit.draw())) is None  # the worker was terminated
        reader.timeout = 120
        read = await reader.read(kit.png(kit.draw()))
        assert read is not None and read.found == EXPECTED
        assert await reader.read(b"not an image") is None  # and the worker survives that
        assert (await reader.read(kit.png(kit.draw()))).found == EXPECTED
    finally:
        await reader.close()
