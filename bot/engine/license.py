"""Recognised text lines of a business license (营业执照) -> its labelled fields. Pure.

A license prints each field as a label followed by its value: on the same line
(``法定代表人张伟``) or in the next box to the right on the same row (``名称 | 宁波…公司``);
the credit code sits under its label in the top-left corner. Bilingual licenses add an English
label beside or under the Chinese one. Only labels are trusted: a value is what follows a label,
and each value must pass the same validator a typed answer does; the credit code is used only
when its GB 32100 check character is right.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from bot.engine.messages import Invalid
from bot.engine.validators import (
    LONG_TERM,
    parse_company_name,
    parse_date,
    parse_person_name,
    uscc_check_char,
)

# Answer keys the basic flow uses; a read value is offered for exactly these.
NAME, USCC, LEGAL, TERM = "company_name", "uscc", "legal_rep_name", "license_end_date"
FIELDS = (NAME, USCC, LEGAL, TERM)

# Legal representative's title by the kind of entity: companies print 法定代表人, branches
# 负责人, individual businesses 经营者, partnerships 执行事务合伙人, sole proprietorships 投资人.
LEGAL_TITLES = {
    "法定代表人": "legal_representative", "负责人": "person_in_charge",
    "经营者": "operator", "执行事务合伙人": "managing_partner", "投资人": "investor",
}
_LABELS: dict[str, tuple[str, ...]] = {
    NAME: ("名称", "企业名称", "Company Name", "Name of Enterprise", "Name"),
    USCC: ("统一社会信用代码", "Unified Social Credit Code", "Social Credit Code"),
    LEGAL: (*LEGAL_TITLES, "Legal Representative", "Person in Charge", "Operator"),
    TERM: ("营业期限", "经营期限", "合伙期限", "Business Term", "Term of Business",
           "Term of Operation", "Operating Period", "Period of Operation", "Business Period"),
}
# The license's other labels: a value is never one of them (an empty field's neighbour).
_OTHER_LABELS = re.compile(
    r"\s*(?:类\s*型|经\s*营\s*范\s*围|注\s*册\s*资\s*本|成\s*立\s*日\s*期|住\s*所|"
    r"登\s*记\s*机\s*关|营\s*业\s*执\s*照|主\s*要\s*经\s*营\s*场\s*所|出\s*资\s*额)")
_ENGLISH_TITLES = {"Legal Representative": "legal_representative",
                   "Person in Charge": "person_in_charge", "Operator": "operator"}


def _label_pattern(label: str) -> str:
    if label.isascii():  # English: any case and spacing, a whole word
        return r"\s*".join(map(re.escape, label.split())) + r"\b"
    return r"\s*".join(map(re.escape, label))  # 名 称: labels are often letter-spaced


# Longest first, so 法定代表人 wins over a shorter label that starts the same way.
_LABEL_RES = sorted(
    ((field, label, re.compile(r"\s*" + _label_pattern(label) + r"\s*[:：]?\s*", re.IGNORECASE))
     for field, labels in _LABELS.items() for label in labels),
    key=lambda item: -len(item[1]),
)
_CODE = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_TO = re.compile(r"至|到|~|～|—|–|\s-{1,2}\s|\bto\b|\buntil\b", re.IGNORECASE)
_DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日?|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_LONG = re.compile(r"长期|永久|不约定期限|无固定期限|long[\s-]*term|permanent|indefinite",
                   re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One recognised text box: its text and its corners (left, top, right, bottom)."""

    text: str
    box: tuple[float, float, float, float]
    score: float = 1.0


@dataclass(frozen=True)
class LicenseFields:
    company_name: str | None = None
    uscc: str | None = None  # only with a valid check character
    legal_rep_name: str | None = None
    license_end_date: str | None = None  # ISO date, or LONG_TERM for 长期
    legal_title: str | None = None  # which title the license gives the person (LEGAL_TITLES)
    uscc_unchecked: bool = False  # a code was printed but its check character is wrong

    @property
    def found(self) -> dict[str, str]:
        return {k: v for k in FIELDS if (v := getattr(self, k)) is not None}

    @property
    def readable(self) -> bool:
        """Enough was read to be worth showing: two fields, a failed code counting as one."""
        return len(self.found) + self.uscc_unchecked >= 2

    def to_json(self) -> dict:
        return asdict(self)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _starts_with_label(text: str) -> tuple[str, str, str] | None:
    """(field, label, the rest of the text) when ``text`` begins with a field's label; labels
    repeated in two languages (``名称 Name``) are all stripped."""
    for field, label, pattern in _LABEL_RES:
        match = pattern.match(text)
        if match:
            rest = text[match.end():]
            again = _starts_with_label(rest)
            if again and again[0] == field:
                return field, label, again[2]
            return field, label, rest
    return None


def _same_row(a: Line, b: Line) -> bool:
    top, bottom = max(a.box[1], b.box[1]), min(a.box[3], b.box[3])
    return bottom - top >= 0.5 * min(a.box[3] - a.box[1], b.box[3] - b.box[1])


def _right_of(label: Line, lines: list[Line]) -> list[Line]:
    """Boxes on the label's row to its right, nearest first (the value, when not in the label's
    own box)."""
    height = label.box[3] - label.box[1]
    row = [b for b in lines if b is not label and _same_row(label, b)
           and b.box[0] >= label.box[2] - height and b.box[0] - label.box[2] < 20 * height]
    return sorted(row, key=lambda b: b.box[0])


def _term_end(text: str) -> str | None:
    """营业期限 ``2015年03月12日至2035年03月11日`` / ``…至长期`` / ``长期`` -> the end."""
    end = _TO.split(_clean(text))[-1]
    if _LONG.search(end):
        return LONG_TERM
    dates = _DATE.findall(end)
    if not dates:
        return None
    try:
        return parse_date(dates[-1])
    except Invalid:
        return None


def _name(text: str) -> str | None:
    try:
        return parse_company_name(text)
    except Invalid:
        return None


def _person(text: str) -> str | None:
    try:
        return parse_person_name(text)
    except Invalid:
        return None


_PARSE = {NAME: _name, LEGAL: _person, TERM: _term_end}


def _codes(text: str) -> list[str]:
    compact = re.sub(r"\s+", "", _clean(text)).upper()
    return [c for c in _CODE.findall(compact) if sum(ch.isdigit() for ch in c) >= 8]


def _valid_code(code: str) -> bool:
    try:
        return uscc_check_char(code[:17]) == code[17]
    except ValueError:  # a letter the code's alphabet does not have (I, O, S, V, Z)
        return False


def parse_license(recognised: Iterable[Line]) -> LicenseFields:
    lines = [Line(_clean(b.text), b.box, b.score) for b in recognised if _clean(b.text)]
    values: dict[str, str] = {}
    title: str | None = None
    for line in lines:
        labelled = _starts_with_label(line.text)
        if labelled is None:
            continue
        field, label, rest = labelled
        if field in values or field == USCC:
            continue
        parse = _PARSE[field]
        candidates = [rest] if rest else []
        candidates += [b.text for b in _right_of(line, lines)[:2]]
        if field == TERM and len(candidates) > 1 and not rest:
            candidates.insert(0, " ".join(candidates[:2]))  # 2015年…至 | 2035年… in two boxes
        for text in candidates:
            if _starts_with_label(text) or _OTHER_LABELS.match(text):
                break  # the next field's label: this one's value is missing
            value = parse(text)
            if value is not None:
                values[field] = value
                if field == LEGAL:
                    title = LEGAL_TITLES.get(label) or _ENGLISH_TITLES.get(label)
                break
    codes = [c for line in lines for c in _codes(line.text)]
    good = [c for c in codes if _valid_code(c)]
    return LicenseFields(
        company_name=values.get(NAME), uscc=good[0] if good else None,
        legal_rep_name=values.get(LEGAL), license_end_date=values.get(TERM),
        legal_title=title, uscc_unchecked=bool(codes) and not good,
    )


def looks_upright(recognised: Iterable[Line]) -> bool:
    """Whether the boxes run left to right: a page turned by 90° gives tall, narrow boxes."""
    boxes = [b.box for b in recognised if len(b.text) >= 3]
    wide = sum(1 for x0, y0, x1, y1 in boxes if x1 - x0 >= y1 - y0)
    return bool(boxes) and wide * 2 >= len(boxes)
