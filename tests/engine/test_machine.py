"""The state machine on a small flow of its own: commands, reuse of answers, files, choices."""

import io
import textwrap

import pytest
from PIL import Image

from bot.content import LOCALES, template_env
from bot.engine.loader import load_flows
from bot.engine.machine import Guide
from bot.engine.model import (
    Choose,
    DropDocuments,
    Hello,
    StoreDocument,
    Text,
    Upload,
)
from bot.engine.render import Renderer
from bot.i18n import SUPPORTED, Translator
from tests.talk import Talk

FLOWS = {
    "menu": """
        id: menu
        title: Main menu
        start: main
        steps:
          main:
            kind: choice
            text: Pick one
            options:
              - {id: one, label: Basic certification, next: "flow:one"}
              - {id: two, label: Factory certification, next: "flow:two"}
    """,
    "one": """
        id: one
        title: Basic certification
        start: name
        steps:
          name:
            kind: text
            validator: company_name
            answer: company_name
            label: Company name
            text: Company name?
            next: mail
          mail:
            kind: text
            validator: email
            answer: company_email
            label: Company email
            text: Email?
            next: pics
          pics:
            kind: files
            files: {category: photos, label: Photos, accept: [png], max_mb: 1, min: 1, max: 3}
            text: Photos?
            next: kind
          kind:
            kind: choice
            text: Which?
            answer: which
            options:
              - {id: "yes", label: "Yes", next: bye}
              - {id: "no", label: "No", next: bye}
          bye:
            kind: end
            text: Bye
    """,
    "two": """
        id: two
        title: Factory certification
        start: name
        steps:
          name:
            kind: text
            validator: company_name
            answer: company_name
            label: Company name
            text: Company name?
            next: bye
          bye:
            kind: end
            text: Bye
    """,
}


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dialogs")
    for name, text in FLOWS.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    (directory / "templates").mkdir()
    translator = Translator.load(LOCALES)
    envs = {loc: template_env(translator, loc, directory / "templates") for loc in SUPPORTED}
    return Guide(load_flows(directory), Renderer(translator, envs, {"reviewed": "2026-11-29"}))


def png(shade=0, size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (shade, shade, shade)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_new_merchant_sees_the_menu(guide):
    talk = Talk(guide)
    assert talk.step == "menu.main"
    assert talk.choices == ["one", "two"]


def test_choices_match_by_id_number_and_label_in_either_language(guide):
    for answer in ["one", "1", "Basic certification", "basic certification"]:
        talk = Talk(guide)
        talk(answer)
        assert talk.step == "one.name", answer
    talk = Talk(guide)
    talk(Text("Definitely not an option"))
    assert talk.step == "menu.main"
    assert "pick one of the options" in talk.text


def test_questions_show_progress(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    assert "question 1 of 4" in talk.text
    talk("Acme Trading Co., Ltd.")
    assert "question 2 of 4" in talk.text


def test_a_refused_answer_leaves_the_state_as_it_was(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    before = talk.state
    talk("not-an-email")
    assert talk.step == "one.mail"
    assert talk.state == before
    assert "@" in talk.text  # the refusal explains and shows an example


def test_back_offers_the_previous_answer_for_editing(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk("/back")
    assert talk.step == "one.name"
    assert "Your previous answer: Acme Trading Co., Ltd." in talk.text
    assert talk.choices == ["keep", "change"]
    talk("Better Name Trading Co., Ltd.")  # typing a new answer edits it
    assert talk.step == "one.mail"
    assert talk.state.answers["company_name"] == "Better Name Trading Co., Ltd."


def test_back_with_keep_goes_on_unchanged(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk("/back")
    talk(Choose("keep"))
    assert talk.step == "one.mail"
    assert talk.state.answers["company_name"] == "Acme Trading Co., Ltd."


def test_back_from_the_first_question_returns_to_the_menu_choice(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("/back")
    assert talk.step == "menu.main"
    assert "Your previous answer: Basic certification" in talk.text
    talk("/back")
    assert "no earlier question" in talk.text
    assert talk.step == "menu.main"


def test_an_answer_given_in_one_flow_is_offered_in_another(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk("/cancel")
    assert talk.step == "menu.main"
    talk(Choose("two"))
    assert talk.step == "two.name"
    assert "We already have: Acme Trading Co., Ltd." in talk.text
    assert talk.choices == ["keep", "change"]
    talk(Choose("change"))
    assert talk.step == "two.name" and talk.choices == []
    talk("Other Name Co., Ltd.")
    assert talk.state.answers["company_name"] == "Other Name Co., Ltd."


def test_files_are_taken_one_by_one_until_done(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com")]:
        talk(event)
    assert talk.out.expects.kind == "files" and talk.out.expects.max_files == 3
    talk(Choose("done"))
    assert "I still need 1 more file here" in talk.text and talk.step == "one.pics"
    talk(Upload(png(1), "a.png"))
    assert isinstance(talk.out.effects[0], StoreDocument)
    assert "1 of at most 3" in talk.text
    talk(Upload(png(1), "again.png"))
    assert "already sent this file" in talk.text and talk.out.effects == []
    talk(Upload(b"%PDF-1.4 not really", "b.png"))
    assert "PDF" in talk.text and talk.state == talk.before
    talk(Upload(png(2), "b.png"))
    talk("done")
    assert talk.step == "one.kind"
    assert [d.name for d in talk.state.documents] == ["a.png", "b.png"]


def test_the_last_allowed_file_moves_on(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com")]:
        talk(event)
    for shade in range(3):
        talk(Upload(png(shade), f"{shade}.png"))
    assert talk.step == "one.kind"


def test_back_to_files_offers_keep_or_replace(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com"),
                  Upload(png(1), "a.png"), Choose("done"), Text("/back")]:
        talk(event)
    assert talk.step == "one.pics" and talk.choices == ["keep", "change"]
    talk(Choose("change"))
    assert talk.out.effects == [DropDocuments("photos")]
    assert talk.state.documents == []


def test_a_stale_button_gets_already_answered(guide):
    talk = Talk(guide)
    talk(Choose("one", step="menu.main"))
    talk(Choose("two", step="menu.main"))
    assert "already answered" in talk.text
    assert talk.step == "one.name"


def test_lang_switches_mid_flow_and_keeps_answers(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk("/lang")
    assert talk.state.locale == "zh_CN"
    assert talk.step == "one.mail"
    assert talk.state.answers["company_name"] == "Acme Trading Co., Ltd."
    assert "已切换" in talk.text or "中文" in talk.text
    talk("/lang en")
    assert talk.state.locale == "en" and "English" in talk.text


def test_status_lists_collected_and_missing(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk("/status")
    assert "Collected:\n• Company name: Acme Trading Co., Ltd." in talk.text
    assert "Still missing:\n• Company email\n• Photos" in talk.text
    assert talk.step == "one.mail"


def test_unknown_commands_are_explained(guide):
    talk = Talk(guide)
    talk("/frobnicate")
    assert "/frobnicate" in talk.text and "/help" in talk.text


def test_an_end_step_returns_to_the_menu(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com"),
                  Upload(png(1), "a.png"), Choose("done"), Choose("yes")]:
        talk(event)
    assert "Bye" in talk.text
    assert talk.step == "menu.main"
    assert talk.state.stack == []


def test_hello_for_a_returning_merchant_repeats_the_question(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk(Hello())
    assert "Welcome back" in talk.text and talk.step == "one.name"


def test_a_file_sent_for_a_completed_question_is_not_stored(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com")]:
        talk(event)
    talk(Upload(png(1), "late.png", step="one.mail"))
    assert "already complete" in talk.text
    assert talk.out.effects == [] and talk.state.documents == []
    talk(Upload(png(1), "on-time.png", step="one.pics"))
    assert [d.name for d in talk.state.documents] == ["on-time.png"]


def test_the_number_of_done_finishes_a_files_step(guide):
    talk = Talk(guide)
    for event in [Choose("one"), Text("Acme Trading Co., Ltd."), Text("a@example.com"),
                  Upload(png(1), "a.png")]:
        talk(event)
    talk("1")
    assert talk.step == "one.kind"


def test_a_conversation_survives_steps_removed_from_the_content(guide):
    talk = Talk(guide)
    talk(Choose("one"))
    talk("Acme Trading Co., Ltd.")
    talk.state.stack.insert(0, "gone.step")  # a question an older release had
    talk.state.stack.append("one.vanished")
    talk("/back")
    assert talk.step == "one.name"
    talk.state.flow, talk.state.step = "gone", "step"
    talk("hello")
    assert talk.step == "menu.main"
    talk("/back")
    assert "no earlier question" in talk.text
