"""Uploads through the real flows, in both languages: blurred and small scans, oversized ones,
factory photos (labels, duplicates, camera metadata, ten at most), the license's end date and
the company name written in two forms."""

from __future__ import annotations

from datetime import date

import pytest

from bot.content import load_guide
from bot.engine import images
from bot.engine.consistency import (
    check_answer,
    company_places,
    license_validity,
    name_in_file,
    name_key,
    name_notes,
)
from bot.engine.files import BLURRED
from bot.engine.intake import SMALLER, upload_names
from bot.engine.messages import Invalid, Msg
from bot.engine.model import Choose, DocumentRef, Upload
from tests.documents import samples
from tests.talk import TODAY, Talk

LANGS = ["zh_CN", "en"]


@pytest.fixture(scope="module")
def guide():
    return load_guide()


def at_license(guide, locale):
    talk = Talk(guide, locale)
    talk(Choose("basic"))
    talk("宁波海岸贸易有限公司")
    assert talk.step == "basic.license"
    return talk


def at_photos(guide, locale):
    talk = Talk(guide, locale)
    talk(Choose("factory"))
    assert talk.step == "factory.production_line"
    return talk


# -- scans of the license ------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LANGS)
def test_a_blurred_license_is_refused_with_the_reason_and_a_tip(guide, locale):
    talk = at_license(guide, locale)
    talk(Upload(samples.scan(blur=3), "营业执照.png"))
    assert talk.step == "basic.license" and talk.state == talk.before
    assert talk.t(BLURRED) in talk.text
    if locale == "zh_CN":
        assert "模糊" in talk.text and "平放" in talk.text
    else:
        assert "blurred" in talk.text and "daylight" in talk.text and "flat" in talk.text
    talk(Upload(samples.scan(), "营业执照.png"))
    assert talk.step != "basic.license" and talk.state.documents[0].name == "营业执照.png"


@pytest.mark.parametrize("locale", LANGS)
def test_a_license_too_small_to_read_is_refused(guide, locale):
    talk = at_license(guide, locale)
    talk(Upload(samples.scan((500, 354)), "small.png"))
    assert talk.step == "basic.license"
    assert "500" in talk.text and "600" in talk.text


@pytest.mark.parametrize("locale", LANGS)
def test_a_license_over_two_megabytes_gets_the_offer_of_a_smaller_copy(guide, locale):
    talk = at_license(guide, locale)
    talk(Upload(samples.large_scan(), "big.jpg"))
    assert talk.state.documents[0].name == "big.jpg"  # accepted: the platform only recommends
    assert SMALLER + "business_license" in talk.choices
    offer = talk.out.replies[0]
    assert "2 MB" in offer.text and [c.label for c in offer.choices] == [
        talk.t(Msg("Smaller copy"))]


def test_a_small_license_gets_no_offer(guide):
    talk = at_license(guide, "en")
    talk(Upload(samples.scan(), "ok.png"))
    assert not [c for c in talk.choices if c.startswith(SMALLER)]


# -- factory photos --------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LANGS)
def test_photos_get_their_backend_label(guide, locale):
    talk = at_photos(guide, locale)
    talk(Upload(samples.photo(1), "a.jpg"))
    assert "生产线1" in talk.text
    talk(Upload(samples.photo(2), "b.jpg"))
    assert "生产线2" in talk.text
    talk(Choose("done"))
    talk(Upload(samples.photo(3), "c.jpg"))
    assert "仓库1" in talk.text


@pytest.mark.parametrize("locale", LANGS)
def test_a_photo_without_camera_metadata_gets_a_gentle_warning(guide, locale):
    talk = at_photos(guide, locale)
    warning = talk.t(Msg(
        "This photo carries no camera information, as a picture saved from the web or a "
        "screenshot would. That is fine if you took it yourself: the photos must show your "
        "real site, not pictures from the web."))
    talk(Upload(samples.photo(1, camera=False), "web.jpg"))
    assert warning in talk.text and len(talk.state.documents) == 1  # accepted all the same
    talk(Upload(samples.photo(2, camera=True), "phone.jpg"))
    assert warning not in talk.text
    talk(Upload(samples.photo(3, camera=False), "tg.jpg", compressed=True))
    assert warning not in talk.text  # the messenger stripped it: a tip instead
    assert talk.t(Msg("Tip: the messenger compressed this photo. Sent as a file, a photo "
                      "stays sharp.")) in talk.text
    talk(Upload(samples.photo(4, camera=False), "web2.jpg"))
    assert warning not in talk.text and len(talk.state.documents) == 4  # said once here


@pytest.mark.parametrize("locale", LANGS)
def test_the_same_picture_twice_is_refused_even_resized_or_in_another_category(guide, locale):
    talk = at_photos(guide, locale)
    talk(Upload(samples.photo(1), "line.jpg"))
    talk(Upload(samples.photo(1), "line-again.jpg"))
    assert talk.state == talk.before
    exact = talk.t(Msg("You have already sent this file here; it is not stored twice."))
    assert exact in talk.text
    resized = samples.encode(samples.scene(1).resize((1200, 900)), quality=60)
    talk(Upload(resized, "smaller.jpg"))
    assert talk.state == talk.before and "line.jpg" in talk.text and "生产线1" in talk.text
    talk(Choose("done"))
    assert talk.step == "factory.warehouse"
    talk(Upload(samples.encode(samples.scene(1).resize((1400, 1050))), "store.jpg"))
    assert talk.state == talk.before and "生产线1" in talk.text
    talk(Upload(samples.photo(2), "store.jpg"))
    assert [d.name for d in talk.state.documents] == ["line.jpg", "store.jpg"]


def test_ten_photos_fill_a_category_and_move_on(guide):
    talk = at_photos(guide, "zh_CN")
    for n in range(10):
        talk(Upload(samples.photo(100 + n, size=(800, 600)), f"{n}.jpg"))
    assert "10" in talk.text and talk.step == "factory.warehouse"
    assert len(talk.state.documents) == 10
    assert len({d.phash for d in talk.state.documents}) == 10


def test_a_blurred_photo_is_accepted_with_a_note(guide):
    talk = at_photos(guide, "en")
    soft = samples.encode(samples.blurred(samples.scene(5), 8))
    talk(Upload(soft, "soft.jpg"))
    assert len(talk.state.documents) == 1 and "out of focus" in talk.text


# -- the company name and the license's term --------------------------------------------------


@pytest.mark.parametrize("locale", LANGS)
def test_a_file_named_with_another_form_of_the_company_name_is_pointed_out(guide, locale):
    talk = at_license(guide, locale)
    talk(Upload(samples.scan(), "宁波海岸贸易Co., Ltd.营业执照.png"))
    assert len(talk.state.documents) == 1
    assert "宁波海岸贸易Co., Ltd." in talk.text and "宁波海岸贸易有限公司" in talk.text


@pytest.mark.parametrize(("first", "second"), [
    ("宁波海岸贸易有限公司", "宁波海岸贸易Co., Ltd."),
    ("宁波海岸贸易有限公司", "宁波海岸贸易有限责任公司"),
    ("（宁波）海岸贸易有限公司", "(宁波)海岸贸易有限公司"),
    ("宁波海岸贸易有限公司", "宁波 海岸贸易 有限公司"),
    ("Ningbo Coast Trading Co., Ltd.", "NINGBO COAST TRADING CO.,LTD"),
    ("Ningbo Coast Trading Co., Ltd.", "Ｎｉｎｇｂｏ Coast Trading Company Limited"),
])
def test_two_forms_of_one_name_have_the_same_key(first, second):
    assert first != second and name_key(first) == name_key(second)


def test_names_that_differ_are_not_the_same_company():
    assert name_key("宁波海岸贸易有限公司") != name_key("宁波海岸商贸有限公司")
    places = company_places({"a": "宁波海岸贸易有限公司", "b": "宁波海岸商贸有限公司"},
                            {"a": "Company name", "b": "Seller"})
    (note,) = name_notes(places)
    assert "different names" in note.msgid
    assert name_notes(company_places({"a": "宁波海岸贸易有限公司", "b": "Ningbo Coast Ltd."},
                                     {"a": "Company name", "b": "English name"})) == []


@pytest.mark.parametrize(("file_name", "found"), [
    ("宁波海岸贸易有限公司营业执照.jpg", "宁波海岸贸易有限公司"),
    ("01_Ningbo Coast Trading Co., Ltd_license.png", "Ningbo Coast Trading Co., Ltd"),
    ("IMG_2024.jpg", None), ("有限公司.jpg", None),
])
def test_a_company_name_is_read_from_a_file_name(file_name, found):
    assert name_in_file(file_name) == found


@pytest.mark.parametrize(("end", "status", "days"), [
    ("2026-11-28", "expired", -1), ("2026-11-29", "expiring", 0), ("2027-01-28", "expiring", 60),
    ("2027-01-29", "valid", 61), ("long_term", "long_term", None)])
def test_license_validity(end, status, days):
    validity = license_validity({"license_end_date": end}, TODAY)
    assert (validity.status, validity.days) == (status, days)


def check_end(value, collects_license):
    return check_answer("license_end_date", value, answers={}, today=TODAY,
                        collects_license=collects_license, company_keys={}, file_names=[])


def test_an_expired_license_is_refused_where_the_license_is_collected():
    with pytest.raises(Invalid) as refused:
        check_end("2026-01-31", collects_license=True)
    assert refused.value.message.params["problem"].params["date"] == date(2026, 1, 31)
    (note,) = check_end("2026-01-31", collects_license=False)  # renewal: a warning
    assert "expired on" in note.msgid
    (note,) = check_end("2027-01-10", collects_license=True)
    assert note.params == {"date": date(2027, 1, 10), "days": 42}
    assert check_end("2030-01-01", collects_license=True) == ()


@pytest.mark.parametrize("locale", LANGS)
def test_an_expiring_license_end_date_is_warned_in_the_renewal_flow(guide, locale):
    talk = Talk(guide, locale)
    talk(Choose("renewal"))
    talk(Choose("enterprise"))
    talk(Choose("enter"))
    talk("2027-01-10")
    assert talk.state.answers["license_end_date"] == "2027-01-10"
    shown = "2027年1月10日" if locale == "zh_CN" else "January 10, 2027"  # the locale's format
    assert shown in talk.text and "42" in talk.text


# -- names for upload --------------------------------------------------------------------------


def test_upload_names_number_documents_and_label_photos():
    docs = [DocumentRef("a", "production_line", "x.jpg", "jpg", 1),
            DocumentRef("b", "business_license", "l.png", "png", 1),
            DocumentRef("c", "production_line", "y.jpg", "jpg", 1),
            DocumentRef("d", "production_licence", "p1.pdf", "pdf", 1),
            DocumentRef("e", "production_licence", "p2.jpg", "jpg", 1),
            DocumentRef("f", "iso_certificate", "iso.pdf", "pdf", 1),
            DocumentRef("g", "mystery", "m.csv", "csv", 1)]
    assert upload_names(docs) == ["生产线_1.jpg", "01_营业执照.png", "生产线_2.jpg",
                                  "02_生产许可证_1.pdf", "02_生产许可证_2.jpg",
                                  "03_ISO认证证书.pdf", "04_mystery.csv"]


def test_near_duplicate_threshold_is_meaningful():
    assert 0 < images.NEAR_BITS < 16
