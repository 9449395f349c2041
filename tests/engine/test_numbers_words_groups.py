"""What a typed number, a language's name, "done" and a group of files mean: decided by the
engine, so every channel reads them alike."""

from bot.engine.model import Choice, Choose, Files, StoreDocument, Text, Upload
from tests.engine.test_machine import guide, png  # noqa: F401 - the fixture is used by name
from tests.talk import Talk


def at_pics(guide, locale="en") -> Talk:  # noqa: F811
    talk = Talk(guide, locale)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com")]:
        talk(event)
    assert talk.step == "one.pics"
    return talk


def test_the_expectation_carries_the_numbered_choices_the_question_shows(guide):  # noqa: F811
    talk = Talk(guide)
    shown = talk.out.replies[-1].choices
    assert talk.out.expects.choices == shown
    assert [c.id for c in talk.out.expects.choices] == ["one", "two"]
    talk("2")
    assert talk.step == "two.name"


def test_choices_follow_the_merchants_language(guide):  # noqa: F811
    talk = Talk(guide, "zh_CN")
    assert talk.out.expects.choices == talk.out.replies[-1].choices
    english = Talk(guide, "en").out.expects.choices
    assert [c.id for c in english] == [c.id for c in talk.out.expects.choices]


def test_the_expectation_json_is_unchanged_by_the_choices(guide):  # noqa: F811
    talk = Talk(guide)
    assert talk.out.expects.to_json() == {"kind": "choice", "step": "menu.main",
                                          "validator": None, "accept": None,
                                          "max_bytes": None, "max_files": None}


def test_a_files_question_numbers_done_and_one_means_it(guide):  # noqa: F811
    talk = at_pics(guide)
    assert talk.out.expects.choices == (Choice("done", "Done"),)
    talk(Upload(png(1), "a.png"))
    talk("1.")
    assert talk.step == "one.kind"


def test_a_number_at_a_text_question_is_an_answer_not_a_choice(guide):  # noqa: F811
    talk = Talk(guide)
    talk("1")
    assert talk.out.expects.kind == "text" and talk.out.expects.choices == ()
    talk("2")
    assert talk.step == "one.name" and "company_name" not in talk.state.answers


def test_a_number_out_of_range_is_refused_and_changes_nothing(guide):  # noqa: F811
    talk = Talk(guide)
    talk("3")
    assert talk.step == "menu.main" and talk.state == talk.before
    assert "pick one of the options" in talk.text


def test_a_number_means_the_offer_once_an_answer_is_there(guide):  # noqa: F811
    talk = at_pics(guide)
    talk(Upload(png(1), "a.png"))
    talk("done")
    talk("/back")  # to the files question, which now offers Keep or Replace
    assert [c.id for c in talk.out.expects.choices] == ["keep", "change"]
    talk("1")  # Keep
    assert talk.step == "one.kind"
    assert [d.name for d in talk.state.documents] == ["a.png"]


def test_a_languages_name_switches_to_it_at_any_step(guide):  # noqa: F811
    talk = at_pics(guide)
    for word, locale in [("中文", "zh_CN"), ("English", "en"), ("英文", "en"),
                         ("chinese.", "zh_CN")]:
        talk(word)
        assert talk.state.locale == locale, word
        assert talk.step == "one.pics"
    assert talk.state.answers["company_email"] == "a@example.com"


def test_done_words_in_either_language_finish_a_files_step(guide):  # noqa: F811
    for word in ["done", "完成", "好了", "Done!"]:
        talk = at_pics(guide)
        talk(Upload(png(1), "a.png"))
        talk(word)
        assert talk.step == "one.kind", word


def test_a_group_of_files_is_stored_in_order_with_one_answer(guide):  # noqa: F811
    talk = at_pics(guide)
    talk(Files((Upload(png(1), "a.png"), Upload(png(2), "b.png")), step="one.pics"))
    assert len(talk.out.replies) == 2  # the notes of both files, then the question once
    assert "1 of at most 3" in talk.text and "2 of at most 3" in talk.text
    assert [e.ref.name for e in talk.out.effects if isinstance(e, StoreDocument)] == [
        "a.png", "b.png"]
    assert talk.step == "one.pics"


def test_a_group_larger_than_the_question_fills_it_and_refuses_the_rest(guide):  # noqa: F811
    talk = at_pics(guide)
    talk(Files(tuple(Upload(png(shade), f"{shade}.png") for shade in range(5))))
    assert [d.name for d in talk.state.documents] == ["0.png", "1.png", "2.png"]
    assert "2 more file(s) of this album were not used" in talk.text
    assert talk.step == "one.kind"  # the question was complete: the next one is asked


def test_a_refused_file_in_a_group_does_not_stop_the_others(guide):  # noqa: F811
    talk = at_pics(guide)
    talk(Files((Upload(b"%PDF-1.4 no", "x.png"), Upload(png(3), "c.png"))))
    assert "PDF" in talk.text and "1 of at most 3" in talk.text
    assert [d.name for d in talk.state.documents] == ["c.png"]


def test_a_group_at_a_question_without_files_is_refused_once(guide):  # noqa: F811
    talk = Talk(guide)
    talk(Choose("one"))
    talk(Files((Upload(png(1), "a.png"), Upload(png(2), "b.png"))))
    assert talk.text.count("does not take files") == 1
    assert talk.out.effects == [] and talk.state == talk.before


def test_a_group_sent_for_a_completed_question_is_not_stored(guide):  # noqa: F811
    talk = at_pics(guide)
    talk(Files((Upload(png(1), "a.png"),), step="one.mail"))
    assert "already complete" in talk.text
    assert talk.out.effects == [] and talk.state.documents == []
