"""Pure parts of the Telegram adapter: splitting, callback data, the command menu."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.telegram.render import (
    CALLBACK_LIMIT,
    COMMAND_HELP,
    UNKNOWN_STEP,
    CallbackCodec,
    command_description,
    split_text,
    utf16_len,
)
from bot.content import load_guide
from bot.engine.machine import COMMANDS


def test_short_text_is_one_message():
    assert split_text("你好\n\n世界") == ["你好\n\n世界"]


def test_paragraphs_are_kept_whole_when_they_fit():
    paragraphs = [f"{i} " + "段" * 1500 for i in range(6)]
    parts = split_text("\n\n".join(paragraphs))
    assert parts == ["\n\n".join(paragraphs[i:i + 2]) for i in range(0, 6, 2)]


def test_emoji_count_twice_toward_the_limit():
    text = "😀" * 3000  # 6000 UTF-16 units, no place to cut: cut by characters
    parts = split_text(text)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text


def test_a_long_sentence_is_cut_at_sentence_ends():
    sentence = "这是一句话。" * 1000
    parts = split_text(sentence)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert all(p.endswith("。") for p in parts) and "".join(parts) == sentence


@given(st.lists(st.text(alphabet="ab 。\n营😀", max_size=3000), max_size=8))
def test_every_part_fits_and_nothing_is_lost(chunks):
    text = "\n\n".join(chunks)
    parts = split_text(text)
    assert all(utf16_len(p) <= 4096 for p in parts)
    squeeze = lambda s: "".join(s.split())
    assert squeeze("".join(parts)) == squeeze(text)


@pytest.fixture(scope="module")
def codec():
    return CallbackCodec(load_guide().flows)


def test_every_button_of_the_real_flows_fits_64_bytes(codec):
    flows = load_guide().flows
    for flow in flows.values():
        for step in flow.steps.values():
            for option in [*step.options, *(o for o in ("keep", "change", "done"))]:
                option_id = option if isinstance(option, str) else option.id
                data = codec.encode(option_id, f"{flow.id}.{step.id}")
                assert len(data.encode()) <= CALLBACK_LIMIT
                assert data.startswith("c|")
                assert codec.decode(data) == (option_id, f"{flow.id}.{step.id}")


def test_long_ids_travel_as_a_hash_and_are_forgotten_after_a_restart(codec):
    long_id = "remind:" + "二" * 30
    data = codec.encode(long_id, "basic.license")
    assert len(data.encode()) <= CALLBACK_LIMIT and data.startswith("h|")
    assert codec.decode(data) == (long_id, "basic.license")
    fresh = CallbackCodec(load_guide().flows)
    assert fresh.decode(data) is None


@pytest.mark.parametrize("data", [None, "", "x", "c|", "c||", "foo|bar|baz"])
def test_foreign_data_is_not_decoded(codec, data):
    assert codec.decode(data) is None


def test_an_unknown_step_token_is_stale(codec):
    assert codec.decode("c|basic|zzzzzz") == ("basic", UNKNOWN_STEP)


def test_every_engine_command_has_a_menu_line():
    assert set(COMMANDS) <= set(COMMAND_HELP)


def test_help_lines_become_descriptions():
    assert command_description("remind", "/remind: set a reminder") == "set a reminder"
    assert command_description("x", "ab") == "/x ab"
