"""The license parser on recognised lines as the recogniser returns them: label and value in one
box or side by side, letter-spaced labels, English labels, other titles, the term's forms."""

from __future__ import annotations

import pytest

from bot.engine.license import Line, looks_upright, parse_license
from bot.engine.validators import uscc_check_char

FIRST17 = "91330206MA2CK5RX3"
CODE = FIRST17 + uscc_check_char(FIRST17)


def row(y: float, *texts: str, x: float = 100, gap: float = 40) -> list[Line]:
    """Boxes on one row, left to right, each as wide as its text."""
    out = []
    for text in texts:
        width = 30 * len(text)
        out.append(Line(text, (x, y, x + width, y + 36)))
        x += width + gap
    return out


def test_fields_side_by_side_as_on_a_2019_license():
    lines = [*row(90, "统一社会信用代码"), *row(130, CODE), *row(150, "营业执照", x=600),
             *row(380, "名 称", "宁波海岸贸易有限公司"), *row(380, "注册资本", "壹佰万元整", x=900),
             *row(460, "法定代表人", "张伟"),
             *row(540, "营业期限", "2015年03月12日至2035年03月11日", x=900)]
    read = parse_license(lines)
    assert (read.company_name, read.uscc, read.legal_rep_name, read.license_end_date) == (
        "宁波海岸贸易有限公司", CODE, "张伟", "2035-03-11")
    assert read.legal_title == "legal_representative" and read.readable


def test_label_and_value_in_one_box_with_a_colon():
    read = parse_license([*row(0, f"统一社会信用代码：{CODE}"), *row(50, "名称：宁波海岸贸易有限公司"),
                          *row(100, "法定代表人:张伟"), *row(150, "营业期限：长期")])
    assert read.found == {"company_name": "宁波海岸贸易有限公司", "uscc": CODE,
                          "legal_rep_name": "张伟", "license_end_date": "long_term"}


@pytest.mark.parametrize(("title", "kind"), [("负责人", "person_in_charge"),
                                             ("经营者", "operator"),
                                             ("执行事务合伙人", "managing_partner")])
def test_branches_individual_businesses_and_partnerships_name_their_person(title, kind):
    read = parse_license([*row(0, "名称", "宁波海岸贸易有限公司分公司"), *row(50, title, "李娜")])
    assert read.legal_rep_name == "李娜" and read.legal_title == kind


def test_english_labels_of_a_bilingual_license():
    lines = [*row(0, "Unified Social Credit Code", CODE),
             *row(50, "Name", "Ningbo Coast Trading Co., Ltd."),
             *row(100, "Legal Representative", "Zhang Wei"),
             *row(150, "Business Term", "2015-03-12 to 2035-03-11")]
    read = parse_license(lines)
    assert read.found == {"company_name": "Ningbo Coast Trading Co., Ltd.", "uscc": CODE,
                          "legal_rep_name": "Zhang Wei", "license_end_date": "2035-03-11"}
    assert read.legal_title == "legal_representative"


def test_chinese_and_english_label_in_one_box():
    read = parse_license([*row(0, "名称Name", "宁波海岸贸易有限公司"),
                          *row(50, "营业期限BusinessTerm2015年03月12日至长期")])
    assert read.company_name == "宁波海岸贸易有限公司" and read.license_end_date == "long_term"


def test_a_term_split_over_two_boxes():
    read = parse_license([*row(0, "营业期限", "2015年03月12日至", "2035年03月11日")])
    assert read.license_end_date == "2035-03-11"


def test_a_code_with_a_wrong_check_character_is_not_used():
    wrong = FIRST17 + ("1" if CODE[-1] != "1" else "2")
    read = parse_license([*row(0, "统一社会信用代码"), *row(40, wrong),
                          *row(80, "名称", "宁波海岸贸易有限公司")])
    assert read.uscc is None and read.uscc_unchecked and read.readable


def test_a_missing_value_is_not_taken_from_the_next_label():
    read = parse_license([*row(0, "法定代表人", "营业期限", "长期")])
    assert read.legal_rep_name is None and read.license_end_date == "long_term"


def test_text_without_labels_gives_nothing():
    read = parse_license([*row(0, "宁波海岸贸易有限公司"), *row(50, "张伟"), *row(100, "长期")])
    assert read.found == {} and not read.readable


def test_a_page_turned_sideways_has_tall_boxes():
    upright = row(0, "宁波海岸贸易有限公司", "营业期限")
    turned = [Line(b.text, (b.box[1], b.box[0], b.box[3], b.box[2])) for b in upright]
    assert looks_upright(upright) and not looks_upright(turned)


def test_the_next_labels_text_is_not_taken_for_a_name():
    read = parse_license([*row(0, "法定代表人"), *row(0, "经营范围", x=400),
                          *row(50, "名称", "宁波海岸贸易有限公司")])
    assert read.legal_rep_name is None and read.company_name == "宁波海岸贸易有限公司"
