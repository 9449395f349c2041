"""A flow mistake fails at start-up with the file and the step named, never in a chat."""

import textwrap

import pytest

from bot.content import load_guide
from bot.engine.loader import FlowError, check_flows, load_flows
from bot.engine.rules import EFFECTS, RULES
from bot.engine.validators import VALIDATORS

MENU = """
id: menu
title: Main menu
start: main
steps:
  main:
    kind: choice
    text: Pick one
    options:
      - {id: a, label: A, next: "flow:demo"}
"""

DEMO = """
id: demo
title: Demo
start: ask
steps:
  ask:
    kind: text
    validator: email
    label: Email
    text: Your email?
    next: bye
  bye:
    kind: end
    text: Bye
"""


def write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def check(tmp_path, has_translation=lambda locale, msgid: True):
    check_flows(
        load_flows(tmp_path),
        validators=VALIDATORS,
        rules={name: outcomes for name, (outcomes, _) in RULES.items()},
        effects=EFFECTS,
        templates=[],
        figures={"reviewed": "2026-11-29"},
        has_translation=has_translation,
        locales=("zh_CN", "en"),
    )


def test_a_sound_flow_passes(tmp_path):
    check(write(tmp_path, menu=MENU, demo=DEMO))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("next: bye", "next: byebye"), "step 'ask': next step 'byebye' does not exist"),
        (("validator: email", "validator: fax"), "step 'ask': unknown validator 'fax'"),
        (("next: bye", "next: ask"), "step 'bye': unreachable from the start step"),
        (("    next: bye\n", ""), "step 'ask': dead end: no next step"),
        (("kind: end", "kind: info"), "step 'bye': dead end: no next step"),
        (("text: Your email?", "text: Your {mail}?"), "step 'ask': placeholders ['mail']"),
        (("kind: text", "kind: txt"), "step 'ask': unknown kind 'txt'"),
    ],
)
def test_mistakes_name_the_file_and_step(tmp_path, change, expected):
    old, new = change
    assert old in DEMO
    write(tmp_path, menu=MENU, demo=DEMO.replace(old, new, 1))
    with pytest.raises(FlowError) as raised:
        check(tmp_path)
    assert "demo.yaml" in str(raised.value)
    assert expected in str(raised.value)


def test_a_missing_translation_fails_naming_the_step(tmp_path):
    write(tmp_path, menu=MENU, demo=DEMO)
    with pytest.raises(FlowError, match=r"demo.yaml: step 'ask': no zh_CN translation for "
                                        r"'Your email\?'"):
        check(tmp_path, has_translation=lambda locale, msgid: msgid != "Your email?")


def test_a_jump_to_an_unknown_flow_fails(tmp_path):
    write(tmp_path, menu=MENU.replace("flow:demo", "flow:nowhere"), demo=DEMO)
    with pytest.raises(FlowError, match=r"menu.yaml: step 'main': flow 'nowhere' does not exist"):
        check(tmp_path)


def test_a_loop_without_questions_fails(tmp_path):
    looping = DEMO.replace("    next: bye\n", "    next: one\n").replace(
        "  bye:\n    kind: end\n    text: Bye\n",
        "  one:\n    kind: info\n    text: One\n    next: two\n"
        "  two:\n    kind: info\n    text: Two\n    next: one\n",
    )
    write(tmp_path, menu=MENU, demo=looping)
    with pytest.raises(FlowError, match="loops through steps that ask nothing"):
        check(tmp_path)


def test_the_projects_own_content_loads():
    guide = load_guide()
    assert {"menu", "basic", "factory", "trade", "strength", "status", "renewal", "faq"} <= set(
        guide.flows
    )
