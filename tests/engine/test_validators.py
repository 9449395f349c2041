import datetime
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.messages import Invalid, Msg
from bot.engine.validators import VALIDATORS, mask_id, parse_date_value

# Reference check-character computations written out from the standards, independent of the
# module, so a shared mistake cannot make the tests agree with the code.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def uscc(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    check = 31 - total % 31
    return first17 + USCC_ALPHABET[0 if check == 31 else check]


def id_card(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def parse(name: str, text: str):
    return VALIDATORS[name].parse(text)


def refusal(name: str, text: str) -> Msg:
    with pytest.raises(Invalid) as info:
        parse(name, text)
    return info.value.message


def show(name: str, value, locale: str) -> str:
    return VALIDATORS[name].display(value, locale)


# --- registry --------------------------------------------------------------------------------


def test_registry_names_match_keys():
    assert set(VALIDATORS) == {
        "company_name", "person_name", "uscc", "id_number", "email", "phone", "money",
        "percent", "rating", "date", "past_date", "future_date",
    }
    assert all(v.name == key for key, v in VALIDATORS.items())
    assert [k for k, v in VALIDATORS.items() if v.sensitive] == ["id_number"]


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_example_is_accepted_and_json_serialisable(name):
    value = parse(name, VALIDATORS[name].example)
    assert json.loads(json.dumps(value)) == value


REFUSALS = [
    ("company_name", ""), ("company_name", "A"), ("company_name", "公司#"),
    ("company_name", "123 456"), ("company_name", "x" * 101),
    ("person_name", "张"), ("person_name", "张3"), ("person_name", "张 John"),
    ("person_name", "··"),
    ("uscc", "91350100M000100Y4"), ("uscc", "91350100M0001O0Y43"), ("uscc", "91350100M000100Y44"),
    ("id_number", "110105194912310021"), ("id_number", "440106900101001"),
    ("id_number", "11010519491331002X"), ("id_number", "E123"), ("id_number", "ABCDEFG"),
    ("id_number", "护照E12345678"), ("id_number", "1101051949123100"),
    ("email", "a b@c.com"), ("email", "no-at-sign"), ("email", "a@b.c"), ("email", ".a@b.com"),
    ("phone", "12345"), ("phone", "call me"),
    ("money", "-500"), ("money", "0"), ("money", "1.2.3"), ("money", "$5 RMB"), ("money", "lots"),
    ("percent", "101"), ("percent", "-3%"), ("percent", "abc"),
    ("rating", "5.1"), ("rating", "-1"), ("rating", "9/10"),
    ("date", "2027-02-30"), ("date", "05/01/2027"), ("date", "1899-12-31"), ("date", "soon"),
]


@pytest.mark.parametrize(("name", "text"), REFUSALS)
def test_refusals_show_a_valid_example_and_fill_their_placeholders(name, text):
    message = refusal(name, text)
    # The example offered must itself be accepted, or the merchant is sent in circles.
    parse(name, message.params["example"])
    message.msgid.format_map(message.params)  # every placeholder has a parameter


def test_refusals_reuse_shared_msgids():
    assert refusal("company_name", "A").msgid == refusal("person_name", "张").msgid
    assert refusal("uscc", "123").msgid == refusal("id_number", "1101051949123100").msgid
    assert refusal("percent", "101").msgid == refusal("rating", "6").msgid
    assert refusal("percent", "x").msgid == refusal("rating", "x").msgid
    assert len({refusal(name, "   ").msgid for name in VALIDATORS}) == 1


# --- company and person names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("  宁波海岸贸易（集团）有限公司 ", "宁波海岸贸易（集团）有限公司"),
        ("Ningbo  Seaside\tTrading Co., Ltd.", "Ningbo Seaside Trading Co., Ltd."),
        ("A&B (Shenzhen) Imp.-Exp. Co.", "A&B (Shenzhen) Imp.-Exp. Co."),
        ("3M中国有限公司", "3M中国有限公司"),
        ("Levi's", "Levi's"),
    ],
)
def test_company_name_accepts_and_cleans(text, value):
    assert parse("company_name", text) == value
    assert show("company_name", value, "en") == value


def test_company_name_refusals_say_what_is_wrong():
    short = refusal("company_name", " A ")
    assert short.params["count"] == 1
    assert (short.params["min"], short.params["max"]) == (2, 100)
    assert refusal("company_name", "x" * 101).params["count"] == 101
    assert refusal("company_name", "公司#").params["char"] == "#"
    assert refusal("company_name", "公司\u200b").params["char"] == "U+200B"
    assert "letters" in refusal("company_name", "123 456").msgid


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("张伟", "张伟"),
        (" 张  伟 ", "张伟"),
        ("买买提·艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),  # katakana middle dot from an input method
        ("Mary-Jane  O'Neil", "Mary-Jane O'Neil"),
        ("J. R. Smith", "J. R. Smith"),
        ("José Müller", "José Müller"),
    ],
)
def test_person_name_accepts_and_cleans(text, value):
    assert parse("person_name", text) == value


def test_person_name_refusals():
    assert refusal("person_name", "张3").params["char"] == "3"
    assert refusal("person_name", "Bob2").params["char"] == "2"
    assert "not both" in refusal("person_name", "张 John").msgid
    assert refusal("person_name", "x" * 51).params["count"] == 51
    assert refusal("person_name", "张").params["count"] == 1


# --- unified social credit code --------------------------------------------------------------


@pytest.mark.parametrize("code", ["91350100M000100Y43", "911100007109250324"])
def test_uscc_accepts_published_codes(code):
    assert uscc(code[:17]) == code  # the reference computation agrees with the real codes
    assert parse("uscc", code) == code


def test_uscc_normalises_case_spaces_and_full_width():
    assert parse("uscc", " 9135 0100 m000 100y 43 ") == "91350100M000100Y43"
    assert parse("uscc", "９１１１００００７１０９２５０３２４") == "911100007109250324"


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_uscc_accepts_any_code_with_the_right_check_char(first17):
    code = uscc(first17)
    assert parse("uscc", code) == code
    wrong = next(c for c in USCC_ALPHABET if c != code[17])
    assert "does not match" in refusal("uscc", first17 + wrong).msgid


def test_uscc_check_char_zero_case():
    # A weighted sum divisible by 31 gives check 31, which the standard maps to '0'.
    first17 = next(
        f"9111{n:013d}" for n in range(10**6)
        if sum(USCC_ALPHABET.index(c) * w for c, w in zip(f"9111{n:013d}", USCC_WEIGHTS)) % 31
        == 0
    )
    assert parse("uscc", first17 + "0") == first17 + "0"


def test_uscc_refusals_are_distinct_and_specific():
    length = refusal("uscc", "91350100M000100Y4")
    assert (length.params["count"], length.params["expected"]) == (17, 18)
    assert refusal("uscc", "91350100M000100Y4321").params["count"] == 20
    char = refusal("uscc", "91350100M0001O0Y43")
    assert (char.params["char"], char.params["position"]) == ("O", 14)
    for letter in "IOSVZ":
        assert refusal("uscc", "9135010" + letter + "M000100Y43").params["char"] == letter
    check = refusal("uscc", "91350100M000100Y44")
    assert len({length.msgid, char.msgid, check.msgid}) == 3


# --- ID card and passport --------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", id_card("44010619900101001"), id_card("32058320001229372")],
)
def test_id_card_accepted(number):
    assert parse("id_number", number) == {"kind": "id_card", "number": number}


def test_id_card_accepts_lowercase_x_and_spaces():
    assert parse("id_number", " 110105 19491231 002x ") == {
        "kind": "id_card",
        "number": "11010519491231002X",
    }


@pytest.mark.parametrize("number", ["E12345678", "EA1234567", "C01X00T47", "g1234567", "123456789"])
def test_passport_accepted(number):
    assert parse("id_number", number) == {"kind": "passport", "number": number.upper()}


def test_id_card_legacy_15_digits_explained():
    message = refusal("id_number", "440106900101001")
    assert "replaced by the 18-digit number in 1999" in message.msgid
    assert "18-digit number on your current ID card" in message.msgid


@pytest.mark.parametrize(
    ("first17", "fragment"),
    [
        ("11010519490230002", "birth date"),  # 30 February
        ("11010519491301002", "birth date"),  # month 13
        ("11010518991231002", "birth date"),  # before 1900
        ("11010521000101002", "birth date"),  # after the 2099 bound
    ],
)
def test_id_card_impossible_birth_dates_refused(first17, fragment):
    assert fragment in refusal("id_number", id_card(first17)).msgid


def test_id_card_wrong_check_char_refused():
    good = id_card("44010619900101001")
    for char in "0123456789X":
        if char != good[17]:
            assert "check character" in refusal("id_number", good[:17] + char).msgid


def test_id_card_wrong_length_and_chars():
    message = refusal("id_number", "1101051949123100")
    assert (message.params["count"], message.params["expected"]) == (16, 18)
    assert "17 digits" in refusal("id_number", "1101051949123100A2").msgid


def test_passport_refusals_use_a_passport_example():
    assert refusal("id_number", "E123").params["count"] == 4
    assert refusal("id_number", "ABCDEFG").params["example"] == "E12345678"
    assert refusal("id_number", "E1234-567").params["example"] == "E12345678"


TYPED_NUMBERS = [
    "110105194912310021", "440106900101001", "44010619901301001X", "4401061990010100",
    "4401061990010100A2", "E1234-567", "ABCDEFGHIJK", "E" * 25 + "1", "护照E12345678",
]


@pytest.mark.parametrize("typed", TYPED_NUMBERS)
def test_id_refusals_never_carry_the_typed_number(typed):
    message = refusal("id_number", typed)
    normalised = typed.upper()
    for value in message.params.values():
        assert normalised not in str(value).upper()
        assert typed not in str(value)
    assert normalised not in message.msgid


def test_id_display_is_masked_in_both_locales():
    number = "11010519491231002X"
    value = parse("id_number", number)
    for locale in ("zh_CN", "en"):
        assert show("id_number", value, locale) == "1101**********002X"
    assert show("id_number", parse("id_number", "E12345678"), "en") == "E1*****78"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("440106900101001", "440*********001"),  # short numbers keep more hidden
        ("E12345678", "E1*****78"),
        ("EA1234567", "EA*****67"),
        ("E1234", "E***4"),
        ("AB1", "***"),
    ],
)
def test_mask_id(number, masked):
    assert mask_id(number) == masked


# --- email -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("sales@example.com", "sales@example.com"),
        (" Sales.Team+cn@Example.COM.CN ", "Sales.Team+cn@example.com.cn"),
        ("info＠abc-trade.com", "info@abc-trade.com"),  # full-width @ from an input method
        ("a@例子.中国", "a@例子.中国"),
    ],
)
def test_email_accepted(text, value):
    assert parse("email", text) == value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a b@c.com", "spaces"),
        ("no-at-sign", "one @"),
        ("a@b@c.com", "one @"),
        ("@example.com", "one @"),
        (".a@b.com", "before @"),
        ("a..b@c.com", "before @"),
        ("a@b", "after @"),
        ("a@b.c", "after @"),
        ("a@-b.com", "after @"),
        ("a@b.com.", "after @"),
        ("a@b.c0m", "after @"),
    ],
)
def test_email_refused(text, fragment):
    assert fragment in refusal("email", text).msgid


def test_email_too_long():
    message = refusal("email", "a" * 60 + "@" + "b" * 200 + ".com")
    assert message.params["max"] == 254


# --- phone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("+86 138 0013 8000", "+8613800138000", "+86 138 0013 8000"),
        ("+1 650 253 0000", "+16502530000", "+1 650-253-0000"),
        ("13800138000", "+8613800138000", "+86 138 0013 8000"),
        ("010-12345678", "+861012345678", "+86 10 1234 5678"),
        ("0755 1234 5678", "+8675512345678", "+86 755 1234 5678"),
        ("(020) 8765 4321", "+862087654321", "+86 20 8765 4321"),
    ],
)
def test_phone_accepted(text, value, shown):
    assert parse("phone", text) == value
    assert show("phone", value, "zh_CN") == shown
    assert show("phone", value, "en") == shown


@pytest.mark.parametrize("text", ["12345", "1380013800", "+86 000", "call me", "+"])
def test_phone_refused(text):
    assert "phone number" in refusal("phone", text).msgid


# --- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("500000", "500000", "USD"),
        ("500,000", "500000", "USD"),
        ("50万", "500000", "USD"),
        ("50 万", "500000", "USD"),
        ("50w", "500000", "USD"),
        ("$500k", "500000", "USD"),
        ("50万美元", "500000", "USD"),
        ("USD 0.5M", "500000", "USD"),
        ("US$ 1.5 million", "1500000", "USD"),
        ("0.5 million USD", "500000", "USD"),
        ("￥3,000,000", "3000000", "CNY"),
        ("¥3,000,000", "3000000", "CNY"),
        ("300万元", "3000000", "CNY"),
        ("人民币300万", "3000000", "CNY"),
        ("RMB 3M", "3000000", "CNY"),
        ("CNY 5千", "5000", "CNY"),
        ("3百万人民币", "3000000", "CNY"),
        ("1.2亿", "120000000", "USD"),
        ("EUR 200k", "200000", "EUR"),
        ("€2.5m", "2500000", "EUR"),
        ("80万欧元", "800000", "EUR"),
        ("2 billion", "2000000000", "USD"),
        ("1.5b", "1500000000", "USD"),
        ("1234.56", "1234.56", "USD"),
    ],
)
def test_money_accepted(text, amount, currency):
    value = parse("money", text)
    assert (value["amount"], value["currency"]) == (amount, currency)


@pytest.mark.parametrize(("text", "assumed"), [("50万", True), ("500,000", True),
                                               ("50万美元", False), ("$500k", False),
                                               ("300万元", False), ("USD 0.5M", False)])
def test_an_amount_without_currency_is_marked_as_read_in_dollars(text, assumed):
    assert parse("money", text).get("assumed", False) is assumed


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("-500", "greater than zero"),
        ("$-500k", "greater than zero"),
        ("0", "greater than zero"),
        ("0万", "greater than zero"),
        ("1.2.3", "could not read that amount"),
        ("50,00", "could not read that amount"),
        ("lots", "could not read that amount"),
        ("5万亿k", "could not read that amount"),
        ("$5 RMB", "only one currency"),
    ],
)
def test_money_refused(text, fragment):
    assert fragment in refusal("money", text).msgid


def test_money_display_per_locale():
    usd = {"amount": "500000", "currency": "USD"}
    cny = {"amount": "3000000", "currency": "CNY"}
    assert show("money", usd, "zh_CN") == "50 万美元"  # as Chinese merchants write it
    assert show("money", usd, "en") == "USD 500,000"  # no ".00" on a whole amount
    assert show("money", cny, "zh_CN") == "300 万元"
    assert show("money", cny, "en") == "RMB 3,000,000"
    assert show("money", {"amount": "200000", "currency": "EUR"}, "en") == "EUR 200,000"
    assert show("money", {"amount": "1234567", "currency": "CNY"}, "zh_CN") == "1,234,567 元"
    assert show("money", {"amount": "5000.5", "currency": "USD"}, "zh_CN") == "5,000.50 美元"


# --- percent and rating ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("92%", 0.92),
        ("92 %", 0.92),
        ("92％", 0.92),
        ("0.92", 0.92),
        ("92", 0.92),
        ("92.5%", 0.925),
        ("92,5%", 0.925),
        ("1", 1.0),  # a bare number up to 1 is a fraction
        ("100", 1.0),
        ("0", 0.0),
        ("0.5%", 0.005),
        ("100%", 1.0),
    ],
)
def test_percent_accepted(text, value):
    assert parse("percent", text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["101", "100.5", "150%", "-3%", "-0.5"])
def test_percent_out_of_range(text):
    message = refusal("percent", text)
    assert (message.params["min"], message.params["max"]) == ("0%", "100%")


def test_percent_display():
    assert show("percent", 0.92, "zh_CN") == "92%"
    assert show("percent", 0.925, "en") == "92.5%"
    assert show("percent", 1.0, "en") == "100%"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4.6", 4.6), ("4.6星", 4.6), ("4.6 颗星", 4.6), ("4.6 stars", 4.6), ("4.6 Star", 4.6),
        ("4,6", 4.6), ("4.6/5", 4.6), ("4.6 / 5", 4.6), ("5", 5.0), ("0", 0.0), ("4.8分", 4.8),
    ],
)
def test_rating_accepted(text, value):
    assert parse("rating", text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["5.1", "6", "-1", "46"])
def test_rating_out_of_range(text):
    message = refusal("rating", text)
    assert (message.params["min"], message.params["max"]) == ("0", "5")


def test_rating_display_has_one_decimal():
    assert show("rating", 4.6, "zh_CN") == "4.6"
    assert show("rating", 5.0, "en") == "5.0"


# --- date ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2027-05-01", "2027/5/1", "2027.5.1", "2027年5月1日", "2027 年 5 月 1 日", "2027年5月1号",
        "20270501", "1 May 2027", "1st May 2027", "May 1, 2027", "may 1 2027", "1 May, 2027",
        "May 1st, 2027", "２０２７－０５－０１",
    ],
)
def test_date_accepted(text):
    assert parse("date", text) == "2027-05-01"


def test_date_month_names():
    assert parse("date", "31 December 2030") == "2030-12-31"
    assert parse("date", "Sept 9, 2028") == "2028-09-09"
    assert parse("date", "Feb. 29, 2028") == "2028-02-29"


@pytest.mark.parametrize(
    "text", ["长期", "永久", "long-term", "Long Term", "no end date", "无固定期限", "长期有效"]
)
def test_date_long_term(text):
    assert parse("date", text) == "long_term"


@pytest.mark.parametrize(
    ("text", "shown"),
    [("2027-02-30", "2027-02-30"), ("2027年2月29日", "2027-02-29"), ("2027/13/1", "2027-13-01")],
)
def test_date_not_on_the_calendar(text, shown):
    message = refusal("date", text)
    assert "not a real calendar date" in message.msgid
    assert message.params["date"] == shown


@pytest.mark.parametrize("text", ["05/01/2027", "1/5/27", "tomorrow", "2027-05", "2027-5/1"])
def test_date_unreadable_or_ambiguous(text):
    assert "could not read that date" in refusal("date", text).msgid


def test_date_display():
    assert show("date", "2027-05-01", "zh_CN") == "2027年5月1日"
    assert show("date", "2027-05-01", "en") == "May 1, 2027"
    assert show("date", "long_term", "zh_CN") == "长期"
    assert show("date", "long_term", "en") == "long-term"


def test_parse_date_value():
    assert parse_date_value("2027-05-01") == datetime.date(2027, 5, 1)
    assert parse_date_value("long_term") is None
    assert parse_date_value(parse("date", "May 1, 2027")) == datetime.date(2027, 5, 1)
