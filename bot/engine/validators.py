"""Validators for the free-text answers a merchant types.

Each validator turns raw text into a JSON-serialisable value or raises ``Invalid`` with a ``Msg``
that says what was wrong and shows a valid example. The module is pure (no I/O, no clock), so
the engine can call it anywhere and tests need no fixtures.

Refusals for identity documents never carry the typed number in their parameters: messages may
be logged, and an ID number is personal data.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import phonenumbers
from babel.dates import format_date, get_month_names
from babel.numbers import format_decimal, format_percent

from bot.engine.messages import Invalid, Msg


@dataclass(frozen=True)
class TextValidator:
    name: str
    parse: Callable[[str], Any]  # raises Invalid(Msg(...)); returns a JSON-serialisable value
    display: Callable[[Any, str], str]  # (value, locale) -> text for that locale
    example: str  # a valid input, shown in prompts and refusals
    sensitive: bool = False  # shown masked, never echoed
    # Dates: "past" (the day something happened) or "future" (a day still to come); the engine
    # checks it against today, and the example is drawn on the right side of today.
    when: str | None = None


# --- shared messages -------------------------------------------------------------------------
# Several validators share a sentence; keeping one msgid per sentence keeps the catalog small.


def _empty(example: str) -> Invalid:
    return Invalid(Msg("Nothing was entered. Example: {example}", example=example))


def _length_range(count: int, low: int, high: int, example: str) -> Invalid:
    return Invalid(
        Msg(
            "Please use {min} to {max} characters; you sent {count}. Example: {example}",
            min=low,
            max=high,
            count=count,
            example=example,
        )
    )


def _length_exact(count: int, expected: int, example: str) -> Invalid:
    return Invalid(
        Msg(
            "This should be {expected} characters long; you sent {count}. Example: {example}",
            expected=expected,
            count=count,
            example=example,
        )
    )


def _out_of_range(low: str, high: str, example: str) -> Invalid:
    return Invalid(
        Msg("This must be between {min} and {max}. Example: {example}",
            min=low, max=high, example=example)
    )


def _unreadable(example: str) -> Invalid:
    return Invalid(Msg("I could not read that. Please write it like this: {example}",
                       example=example))


def _no_letters(example: str) -> Invalid:
    return Invalid(
        Msg(
            "Please include letters or Chinese characters, not only digits and punctuation. "
            "Example: {example}",
            example=example,
        )
    )


_ASCII_DIGITS = frozenset("0123456789")


def _shown(char: str) -> str:
    """A refused character as the merchant can see it (invisible ones by code point)."""
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


def _normalise_width(text: str) -> str:
    # NFKC folds the full-width digits, letters and symbols Chinese input methods produce
    # (１２３, ＠, ￥, ％) into their ASCII forms. Not used on names, whose official spelling
    # may contain full-width brackets.
    return unicodedata.normalize("NFKC", text).strip()


def _is_cjk(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")) or (
        char == "〇"
    )


def _is_latin_letter(char: str) -> bool:
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN")


def _as_is(value: Any, locale: str) -> str:
    return str(value)


# --- company and person names ----------------------------------------------------------------

COMPANY_EXAMPLE = "宁波海岸贸易有限公司"
PERSON_EXAMPLE = "张伟"

# The apostrophe is allowed too: English trade names such as "Levi's" use it.
_COMPANY_PUNCTUATION = frozenset(" ()（）&.,-'")
# Input methods produce several look-alike middle dots; official documents use U+00B7.
_MIDDLE_DOTS = str.maketrans({"・": "·", "•": "·", "‧": "·", "∙": "·"})
_LATIN_NAME_PUNCTUATION = frozenset(" -'’.")


def parse_company_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise _empty(COMPANY_EXAMPLE)
    if not 2 <= len(name) <= 100:
        raise _length_range(len(name), 2, 100, COMPANY_EXAMPLE)
    for char in name:
        if not (_is_cjk(char) or _is_latin_letter(char) or char in _ASCII_DIGITS
                or char in _COMPANY_PUNCTUATION):
            raise Invalid(
                Msg(
                    "A company name may use Chinese or Latin letters, digits, spaces, brackets "
                    "and & . , ' - only; {char} is not allowed. Example: {example}",
                    char=_shown(char),
                    example=COMPANY_EXAMPLE,
                )
            )
    if not any(_is_cjk(char) or _is_latin_letter(char) for char in name):
        raise _no_letters(COMPANY_EXAMPLE)
    return name


def parse_person_name(text: str) -> str:
    name = " ".join(text.translate(_MIDDLE_DOTS).split())
    if not name:
        raise _empty(PERSON_EXAMPLE)
    for char in name:
        if not (_is_cjk(char) or char == "·" or _is_latin_letter(char)
                or char in _LATIN_NAME_PUNCTUATION):
            raise Invalid(
                Msg(
                    "A name may use Chinese characters (with ·) or Latin letters, spaces, "
                    "hyphens, apostrophes and dots; {char} is not allowed. Example: {example}",
                    char=_shown(char),
                    example=PERSON_EXAMPLE,
                )
            )
    has_cjk = any(_is_cjk(char) for char in name)
    has_latin = any(_is_latin_letter(char) for char in name)
    if has_cjk and has_latin:
        raise Invalid(
            Msg(
                "Please write the name either in Chinese characters or in Latin letters, "
                "not both. Example: {example}",
                example=PERSON_EXAMPLE,
            )
        )
    if has_cjk:
        # Chinese names are written without spaces; "张 伟" is only alignment.
        name = name.replace(" ", "")
    if not 2 <= len(name) <= 50:
        raise _length_range(len(name), 2, 50, PERSON_EXAMPLE)
    if not (has_cjk or has_latin):
        raise _no_letters(PERSON_EXAMPLE)
    return name


# --- unified social credit code (GB 32100-2015) ----------------------------------------------

USCC_EXAMPLE = "91330106MA2B3C4D5D"
# I, O, Z, S and V are left out so they cannot be confused with 1, 0, 2, 5 and U.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code, from its first 17."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def parse_uscc(text: str) -> str:
    code = "".join(_normalise_width(text).split()).upper()
    if not code:
        raise _empty(USCC_EXAMPLE)
    if len(code) != 18:
        raise _length_exact(len(code), 18, USCC_EXAMPLE)
    for position, char in enumerate(code, start=1):
        if char not in _USCC_ALPHABET:
            raise Invalid(
                Msg(
                    "A unified social credit code uses digits and capital letters except I, O, "
                    "S, V and Z; {char} (position {position}) is not allowed. Example: {example}",
                    char=_shown(char),
                    position=position,
                    example=USCC_EXAMPLE,
                )
            )
    if uscc_check_char(code[:17]) != code[17]:
        raise Invalid(
            Msg(
                "The last character of this unified social credit code does not match the "
                "others, so there is probably a typo; please copy it again from the business "
                "license. Example: {example}",
                example=USCC_EXAMPLE,
            )
        )
    return code


# --- resident ID card (GB 11643-1999) or passport --------------------------------------------

ID_EXAMPLE = "11010519491231002X"  # the sample number printed in GB 11643-1999
PASSPORT_EXAMPLE = "E12345678"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
# No clock here, so the latest birth date is a fixed bound. A near one (say, this year) would
# become a time bomb refusing genuine cards years from now; the check character already catches
# almost every typo, so the bound only needs to exclude dates no card can carry.
_ID_BIRTH_MIN = datetime.date(1900, 1, 1)
_ID_BIRTH_MAX = datetime.date(2099, 12, 31)
_PASSPORT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number, from its first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _looks_like_id_card(number: str) -> bool:
    # ID numbers are 15 or 18 characters and start with a digit; a digit-led entry that long is a
    # mistyped ID far more often than a passport, so it gets the ID rules and messages.
    return len(number) >= 14 and number[0] in _ASCII_DIGITS


def _parse_id_card(number: str) -> str:
    if len(number) == 15 and set(number) <= _ASCII_DIGITS:
        raise Invalid(
            Msg(
                "This is an old 15-digit ID number, which was replaced by the 18-digit number "
                "in 1999. Please enter the 18-digit number on your current ID card. "
                "Example: {example}",
                example=ID_EXAMPLE,
            )
        )
    if len(number) != 18:
        raise _length_exact(len(number), 18, ID_EXAMPLE)
    if not (set(number[:17]) <= _ASCII_DIGITS and number[17] in _ID_CHECK_CHARS):
        raise Invalid(
            Msg(
                "A Chinese ID number has 17 digits followed by a digit or X. Example: {example}",
                example=ID_EXAMPLE,
            )
        )
    try:
        born = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or not _ID_BIRTH_MIN <= born <= _ID_BIRTH_MAX:
        raise Invalid(
            Msg(
                "The birth date inside this ID number is not possible, so there is probably a "
                "typo. Example: {example}",
                example=ID_EXAMPLE,
            )
        )
    if id_check_char(number[:17]) != number[17]:
        raise Invalid(
            Msg(
                "The check character of this ID number does not match the other digits, so "
                "there is probably a typo. Example: {example}",
                example=ID_EXAMPLE,
            )
        )
    return number


def _parse_passport(number: str) -> str:
    if not 5 <= len(number) <= 20:
        raise _length_range(len(number), 5, 20, PASSPORT_EXAMPLE)
    if not set(number) <= _PASSPORT_CHARS or not set(number) & _ASCII_DIGITS:
        raise Invalid(
            Msg(
                "A passport number has capital letters and digits only, with at least one "
                "digit. Example: {example}",
                example=PASSPORT_EXAMPLE,
            )
        )
    return number


def parse_id_number(text: str) -> dict[str, str]:
    number = "".join(_normalise_width(text).split()).upper()
    if not number:
        raise _empty(ID_EXAMPLE)
    if _looks_like_id_card(number):
        return {"kind": "id_card", "number": _parse_id_card(number)}
    if number[0] in _PASSPORT_CHARS:
        return {"kind": "passport", "number": _parse_passport(number)}
    raise Invalid(
        Msg(
            "Please enter the 18-digit number on your Chinese ID card, or your passport "
            "number. Example: {example}",
            example=ID_EXAMPLE,
        )
    )


def mask_id(value: str) -> str:
    """Keep the ends of an ID (4 + 4) or passport (2 + 2) number; mask the rest with '*'."""
    keep = 4 if _looks_like_id_card(value) else 2
    keep = min(keep, len(value) // 4)  # short numbers keep at least half hidden
    if keep == 0:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def _display_id(value: Mapping[str, str], locale: str) -> str:
    return mask_id(value["number"])


# --- email -----------------------------------------------------------------------------------

EMAIL_EXAMPLE = "sales@example.com"
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _is_domain_label(label: str) -> bool:
    # isalnum() rather than ASCII so internationalised domains (例子.中国) pass.
    return (
        0 < len(label) <= 63
        and all(c.isalnum() or c == "-" for c in label)
        and not label.startswith("-")
        and not label.endswith("-")
    )


def parse_email(text: str) -> str:
    address = _normalise_width(text)
    if not address:
        raise _empty(EMAIL_EXAMPLE)
    if any(c.isspace() for c in address):
        raise Invalid(Msg("An email address cannot contain spaces. Example: {example}",
                          example=EMAIL_EXAMPLE))
    if len(address) > 254:
        raise _length_range(len(address), 6, 254, EMAIL_EXAMPLE)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise Invalid(
            Msg(
                "An email address needs one @ with a name before it and a domain after it. "
                "Example: {example}",
                example=EMAIL_EXAMPLE,
            )
        )
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        raise Invalid(
            Msg(
                "The part before @ can only use letters, digits and . _ - +, and cannot start "
                "or end with a dot. Example: {example}",
                example=EMAIL_EXAMPLE,
            )
        )
    domain = domain.lower()
    labels = domain.split(".")
    tld = labels[-1]
    if (
        len(labels) < 2
        or not all(_is_domain_label(label) for label in labels)
        or not (len(tld) >= 2 and (tld.isalpha() or tld.startswith("xn--")))
    ):
        raise Invalid(
            Msg("The part after @ must be a domain such as example.com. Example: {example}",
                example=EMAIL_EXAMPLE)
        )
    return f"{local}@{domain}"


# --- phone -----------------------------------------------------------------------------------

PHONE_EXAMPLE = "+86 138 0013 8000"
_DEFAULT_REGION = "CN"  # merchants are in mainland China; others type + and a country code


def parse_phone(text: str) -> str:
    raw = _normalise_width(text)
    if not raw:
        raise _empty(PHONE_EXAMPLE)
    try:
        number = phonenumbers.parse(raw, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid(
            Msg(
                "This is not a valid phone number. Include the area code, and start with + and "
                "the country code for numbers outside mainland China. Example: {example}",
                example=PHONE_EXAMPLE,
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _display_phone(value: str, locale: str) -> str:
    number = phonenumbers.parse(value, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- money -----------------------------------------------------------------------------------

MONEY_EXAMPLE = "USD 500,000"
# The amounts asked for are export values, which Alibaba.com reports in US dollars, so an
# amount without a currency is taken as USD.
_DEFAULT_CURRENCY = "USD"
# Longest markers first, so "美元" is not read as "元" and "us$" not as "$".
_CURRENCY_MARKERS = {
    "us$": "USD", "usd": "USD", "美元": "USD", "$": "USD",
    "欧元": "EUR", "eur": "EUR", "€": "EUR",
    "人民币": "CNY", "rmb": "CNY", "cny": "CNY", "cn¥": "CNY", "¥": "CNY", "元": "CNY",
}
_CURRENCY_RE = re.compile(
    "|".join(re.escape(m) for m in sorted(_CURRENCY_MARKERS, key=len, reverse=True))
)
_MULTIPLIERS = {
    "": 1, "k": 10**3, "thousand": 10**3, "千": 10**3, "万": 10**4, "w": 10**4,
    "m": 10**6, "million": 10**6, "百万": 10**6, "亿": 10**8, "b": 10**9, "billion": 10**9,
}
_AMOUNT_RE = re.compile(
    r"(?P<sign>[-−])?\s*(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<unit>" + "|".join(sorted(filter(None, _MULTIPLIERS), key=len, reverse=True)) + r")?"
)


def parse_money(text: str) -> dict[str, Any]:
    raw = _normalise_width(text).lower()
    if not raw:
        raise _empty(MONEY_EXAMPLE)
    currencies = {_CURRENCY_MARKERS[m] for m in _CURRENCY_RE.findall(raw)}
    if len(currencies) > 1:
        raise Invalid(Msg("Please give only one currency. Example: {example}",
                          example=MONEY_EXAMPLE))
    match = _AMOUNT_RE.fullmatch(_CURRENCY_RE.sub(" ", raw).strip())
    if match is None:
        raise Invalid(
            Msg(
                "I could not read that amount. Write a number with an optional unit (k, 万, M, "
                "亿) and currency (USD, RMB, EUR), like this: {example}",
                example=MONEY_EXAMPLE,
            )
        )
    amount = Decimal(match["number"].replace(",", "")) * _MULTIPLIERS[match["unit"] or ""]
    if match["sign"] or amount <= 0:
        raise Invalid(Msg("The amount must be greater than zero. Example: {example}",
                          example=MONEY_EXAMPLE))
    currency = currencies.pop() if currencies else None
    value: dict = {"amount": format(amount.normalize(), "f"),
                   "currency": currency or _DEFAULT_CURRENCY}
    if currency is None:
        value["assumed"] = True  # said back to the merchant, who may have meant yuan
    return value


_ZH_UNITS = {"USD": "美元", "CNY": "元", "EUR": "欧元"}
_EN_CODES = {"CNY": "RMB"}  # the name Chinese merchants write


def format_money(amount: Decimal | int | str, currency: str, locale: str) -> str:
    """An amount as people write it: "50 万美元", "300 万元" in Chinese, "USD 500,000" in
    English; no ".00" on whole amounts."""
    amount = Decimal(str(amount))
    whole = amount == amount.to_integral_value()
    pattern = "#,##0" if whole else "#,##0.00"
    if locale.startswith("zh") and currency in _ZH_UNITS:
        unit = _ZH_UNITS[currency]
        wan = amount / 10_000
        if amount >= 10_000 and wan == wan.quantize(Decimal("0.01")):
            return f"{format_decimal(wan, format='#,##0.##', locale=locale)} 万{unit}"
        return f"{format_decimal(amount, format=pattern, locale=locale)} {unit}"
    code = _EN_CODES.get(currency, currency)
    return f"{code} {format_decimal(amount, format=pattern, locale='en')}"


def _display_money(value: Mapping[str, str], locale: str) -> str:
    return format_money(value["amount"], value["currency"], locale)


class Money:
    """An amount inside a message, written in the merchant's locale when translated."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Decimal | int | str, currency: str = "USD") -> None:
        self.amount, self.currency = Decimal(str(amount)), currency

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Money) and (other.amount, other.currency)
                == (self.amount, self.currency))

    __hash__ = None  # type: ignore[assignment]

    def format(self, locale: str) -> str:
        return format_money(self.amount, self.currency, locale)


# --- percent and rating ----------------------------------------------------------------------

PERCENT_EXAMPLE = "92%"
RATING_EXAMPLE = "4.6"
# A comma decimal ("4,6") is how many merchants write decimals; thousands never occur here.
_NUMBER = r"(?P<sign>[-−])?\s*(?P<number>\d+(?:[.,]\d+)?|[.,]\d+)"
_PERCENT_RE = re.compile(_NUMBER + r"\s*(?P<percent>%)?")
_RATING_RE = re.compile(_NUMBER + r"\s*(?:/\s*5(?:[.,]0)?|颗星|星|分|stars?)?")


def _decimal(match: re.Match[str]) -> Decimal:
    return Decimal(match["number"].replace(",", "."))


def parse_percent(text: str) -> float:
    raw = _normalise_width(text)
    if not raw:
        raise _empty(PERCENT_EXAMPLE)
    match = _PERCENT_RE.fullmatch(raw)
    if match is None:
        raise _unreadable(PERCENT_EXAMPLE)
    number = _decimal(match)
    if match["sign"] and number:
        raise _out_of_range("0%", "100%", PERCENT_EXAMPLE)
    # Without a % sign, a number up to 1 is a fraction (0.92 is 92%, so 1 is 100%) and a larger
    # one is already a percentage (92 is 92%). Nobody states a rate of 1% as a bare "1" here.
    if match["percent"] or number > 1:
        number /= 100
    if number > 1:
        raise _out_of_range("0%", "100%", PERCENT_EXAMPLE)
    return float(number)


def _display_percent(value: float, locale: str) -> str:
    return format_percent(value, format="#,##0.##%", locale=locale)


def parse_rating(text: str) -> float:
    raw = _normalise_width(text).lower()
    if not raw:
        raise _empty(RATING_EXAMPLE)
    match = _RATING_RE.fullmatch(raw)
    if match is None:
        raise _unreadable(RATING_EXAMPLE)
    number = _decimal(match)
    if (match["sign"] and number) or number > 5:
        raise _out_of_range("0", "5", RATING_EXAMPLE)
    return float(number)


def _display_rating(value: float, locale: str) -> str:
    return format_decimal(value, format="0.0", locale=locale)


# --- date ------------------------------------------------------------------------------------

DATE_EXAMPLE = "2030-12-31"  # a license's end date
PAST_EXAMPLE = "2026-11-20"  # shown where no today is at hand; prompts draw one from today
FUTURE_EXAMPLE = "2027-03-15"
LONG_TERM = "long_term"
# The only display words kept here rather than in the catalog: display() must return text and
# this module stays free of catalogs, and "no end date" is a single word in each locale.
_LONG_TERM_WORDS = {"zh_CN": "长期", "en": "long-term"}
_LONG_TERM_INPUTS = frozenset(
    {"长期", "长期有效", "永久", "永久有效", "无固定期限", "long-term", "long term", "longterm",
     "no end date", "permanent"}
)
_DATE_MIN = datetime.date(1900, 1, 1)
_DATE_MAX = datetime.date(2199, 12, 31)
# Month names come from Babel's English locale data rather than a hand-typed list.
_MONTHS = {
    name.lower(): number
    for width in ("wide", "abbreviated")
    for number, name in get_month_names(width, locale="en").items()
} | {"sept": 9}
_MONTH = "(?P<month_name>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
# Only unambiguous forms: year first, or the month spelled out. "05/01/2027" means May in the US
# and January elsewhere, so it is refused rather than guessed.
_DATE_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})",
        r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})[日号]?",
        r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})",
        _DAY + r"\s*" + _MONTH + r",?\s*(?P<year>\d{4})",
        _MONTH + r"\s*" + _DAY + r",?\s*(?P<year>\d{4})",
    )
)


def _date_parts(text: str) -> tuple[int, int, int] | None:
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            parts = match.groupdict()
            month = parts.get("month") or _MONTHS[parts["month_name"]]
            return int(parts["year"]), int(month), int(parts["day"])
    return None


def _calendar_date(text: str, unreadable: Msg, example: str) -> str | None:
    """The typed date as ISO text; ``None`` for a "no end date" word."""
    raw = " ".join(_normalise_width(text).lower().split())
    if not raw:
        raise _empty(example)
    if raw.rstrip(".") in _LONG_TERM_INPUTS:
        return None
    # Spaces inside "2027 年 5 月 1 日" are noise; spelled-out months need theirs.
    compact = raw if re.search(r"[a-z]", raw) else raw.replace(" ", "")
    parts = _date_parts(compact)
    if parts is None:
        raise Invalid(unreadable)
    year, month, day = parts
    try:
        value = datetime.date(year, month, day)
    except ValueError:
        typed = f"{year:04d}-{month:02d}-{day:02d}"
        raise Invalid(
            Msg("{date} is not a real calendar date. Example: {example}",
                date=typed, example=example)
        ) from None
    if not _DATE_MIN <= value <= _DATE_MAX:
        raise _out_of_range(_DATE_MIN.isoformat(), _DATE_MAX.isoformat(), example)
    return value.isoformat()


def parse_date(text: str) -> str:
    """The business license's end date: a date, or 长期 when it has none."""
    value = _calendar_date(text, Msg(
        "I could not read that date. Write it as year-month-day like {example}, or "
        "write long-term if the license has no end date.", example=DATE_EXAMPLE), DATE_EXAMPLE)
    return LONG_TERM if value is None else value


def parse_day(text: str, example: str = PAST_EXAMPLE) -> str:
    """A day on the calendar (something that happened, or a booked appointment)."""
    unreadable = Msg("I could not read that date. Write it as year-month-day, for example "
                     "{example}.", example=example)
    value = _calendar_date(text, unreadable, example)
    if value is None:
        raise Invalid(Msg("This question asks for one day on the calendar, not a term. "
                          "Example: {example}", example=example))
    return value


def check_when(value: str, when: str | None, today: datetime.date) -> None:
    """Refuse a date on the wrong side of today: a past event cannot be in the future, and an
    appointment still to come cannot be in the past."""
    if when is None or value == LONG_TERM:
        return
    day = datetime.date.fromisoformat(value)
    if when == "past" and day > today:
        raise Invalid(Msg("{date} is still to come. Give the day it happened: today or "
                          "earlier, for example {example}.",
                          date=day, example=date_example(when, today)))
    if when == "future" and day < today:
        raise Invalid(Msg("{date} has already passed. Give the day still to come, for "
                          "example {example}.", date=day, example=date_example(when, today)))


def date_example(when: str | None, today: datetime.date) -> str:
    """An example on the right side of today: a week ago, or in three weeks."""
    if when == "past":
        return (today - datetime.timedelta(days=7)).isoformat()
    if when == "future":
        return (today + datetime.timedelta(days=21)).isoformat()
    return DATE_EXAMPLE


def parse_date_value(value: str) -> datetime.date | None:
    """A stored date value as a ``date``; ``None`` means long-term (no end date)."""
    if value == LONG_TERM:
        return None
    return datetime.date.fromisoformat(value)


def _display_date(value: str, locale: str) -> str:
    parsed = parse_date_value(value)
    if parsed is None:
        return _LONG_TERM_WORDS.get(locale, _LONG_TERM_WORDS["en"])
    return format_date(parsed, format="long", locale=locale)


# --- registry --------------------------------------------------------------------------------

VALIDATORS: Mapping[str, TextValidator] = MappingProxyType(
    {
        v.name: v
        for v in (
            TextValidator("company_name", parse_company_name, _as_is, COMPANY_EXAMPLE),
            TextValidator("person_name", parse_person_name, _as_is, PERSON_EXAMPLE),
            TextValidator("uscc", parse_uscc, _as_is, USCC_EXAMPLE),
            TextValidator(
                "id_number", parse_id_number, _display_id, ID_EXAMPLE, sensitive=True
            ),
            TextValidator("email", parse_email, _as_is, EMAIL_EXAMPLE),
            TextValidator("phone", parse_phone, _display_phone, PHONE_EXAMPLE),
            TextValidator("money", parse_money, _display_money, MONEY_EXAMPLE),
            TextValidator("percent", parse_percent, _display_percent, PERCENT_EXAMPLE),
            TextValidator("rating", parse_rating, _display_rating, RATING_EXAMPLE),
            TextValidator("date", parse_date, _display_date, DATE_EXAMPLE),
            TextValidator("past_date", parse_day, _display_date, PAST_EXAMPLE, when="past"),
            TextValidator("future_date", lambda text: parse_day(text, FUTURE_EXAMPLE),
                          _display_date, FUTURE_EXAMPLE, when="future"),
        )
    }
)
