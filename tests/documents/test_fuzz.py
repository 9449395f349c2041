"""Property-based fuzzing of every validator: random bytes and mutated real files of every kind
are accepted or refused with a message, never a crash and never a hang.

Bounded for CI: a fixed number of examples per property, each input checked within
``PER_INPUT`` seconds (a deadline Hypothesis enforces as well).
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from bot.documents import pdf
from bot.engine import images
from bot.engine.consistency import name_in_file, name_key
from bot.engine.files import KINDS, TOO_MUCH_SHEET, FileRule, check_file
from bot.engine.messages import Invalid, Msg
from bot.engine.validators import VALIDATORS
from tests.documents import samples

PER_INPUT = 10.0  # seconds: a bound against hangs, generous for a loaded CI machine
MB = 1024 * 1024
FUZZ = settings(max_examples=60, deadline=int(PER_INPUT * 1000),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _xlsx() -> bytes:
    import io

    book = Workbook()
    book.active.append(["订单号", "金额"])
    book.active.append(["2026-001", 12000])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SEEDS = {
    "jpg": samples.photo(1, size=(640, 480), quality=70),
    "png": samples.scan((700, 500), fmt="PNG"),
    "pdf": samples.pdf_bytes(2),
    "xlsx": _xlsx(),
    "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "Workbook".encode("utf-16-le"),
    "csv": "名称,数量\n螺丝,100\n".encode("gb18030"),
}
HANDMADE = samples.handmade_xlsx(samples.SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr">'
                                 b"<is><t>x</t></is></c></row>" + samples.SHEET_TAIL)
RULES = {kind: FileRule(accept=(kind,), max_bytes=20 * 1024 * 1024, min_pixels=100,
                        sharp=kind in ("jpg", "png")) for kind in KINDS}
ANY = FileRule(accept=KINDS, max_bytes=20 * 1024 * 1024, recommend_bytes=10_000)


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "cut", "splice", "overwrite", "repeat"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            data = data[:pos] + data[pos + draw(st.integers(1, 4096)):]
        elif action == "splice":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif action == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=32))
            data[pos:pos + len(chunk)] = chunk
        elif action == "repeat":
            end = min(len(data), pos + draw(st.integers(1, 2048)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


def accepted_or_refused(data: bytes, rule: FileRule, name: str = "upload") -> None:
    started = time.monotonic()
    try:
        checked = check_file(data, name, rule)
    except Invalid as refused:
        assert isinstance(refused.message, Msg) and refused.message.msgid
    else:
        assert checked.kind in rule.accept and checked.size == len(data)
    assert time.monotonic() - started < PER_INPUT


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_each_seed_is_accepted_as_it_is(kind):
    assert check_file(SEEDS[kind], f"x.{kind}", RULES[kind]).kind == kind


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_mutated_files_of_each_kind(kind):
    @FUZZ
    @given(mutated(SEEDS[kind]))
    def run(data):
        accepted_or_refused(data, RULES[kind], f"file.{kind}")
        accepted_or_refused(data, ANY)

    run()


@FUZZ
@given(mutated(HANDMADE))
def test_mutated_handmade_workbooks(data):
    accepted_or_refused(data, RULES["xlsx"])


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from(sorted(SEEDS)))
def test_random_bytes_behind_a_real_signature(tail, kind):
    head = SEEDS[kind][:16]
    accepted_or_refused(head + tail, RULES[kind])
    accepted_or_refused(tail, ANY)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SEEDS["jpg"]))
def test_mutated_images_never_break_the_pixel_work(data):
    started = time.monotonic()
    try:
        picture = images.decode(data, "jpg")
    except (images.Damaged, images.TooManyPixels):
        return
    work = images.grey(picture)
    assert images.sharpness(work) >= 0 and len(images.dhash(work)) == 16
    copy = images.recompress(data, "jpg", limit=20_000, min_sharpness=0)
    assert copy is None or len(copy) < 20_000
    assert time.monotonic() - started < 2 * PER_INPUT


@pytest.mark.parametrize("name", sorted(samples.HOSTILE_PDFS))
def test_hostile_pdfs_are_refused_or_counted_quickly(name):
    accepted_or_refused(samples.HOSTILE_PDFS[name], RULES["pdf"])


def bounded(check) -> tuple[float, int]:
    """Seconds taken by ``check()``, and its peak of Python memory (measured on a second run:
    tracing slows the first several times over)."""
    started = time.monotonic()
    check()
    seconds = time.monotonic() - started
    tracemalloc.start()
    try:
        check()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak


def test_a_pdf_bomb_in_its_metadata_is_never_inflated():
    bomb = samples.flate_bomb_pdf()
    seconds, peak = bounded(lambda: check_file(bomb, "x.pdf", RULES["pdf"]))
    assert seconds < PER_INPUT and peak < 20 * MB


def test_a_workbook_of_empty_cells_is_refused_in_bounded_time_and_memory():
    data = samples.dense_row_xlsx()
    assert len(data) < 10 * MB  # within the steps' limit, and under every ratio bound

    def check():
        with pytest.raises(Invalid) as refused:
            check_file(data, "report.xlsx", RULES["xlsx"])
        assert refused.value.message == TOO_MUCH_SHEET

    seconds, peak = bounded(check)
    assert seconds < PER_INPUT and peak < 50 * MB


def test_entities_in_a_workbook_are_refused():
    with pytest.raises(Invalid) as refused:
        check_file(samples.entity_xlsx(), "report.xlsx", RULES["xlsx"])
    assert "damaged" in refused.value.message.msgid


# -- text validators, names, the PDF writer -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_text_validators_take_any_text(name):
    validator = VALIDATORS[name]

    @settings(max_examples=80, deadline=int(PER_INPUT * 1000))
    @given(st.one_of(st.text(max_size=80), mutated(validator.example.encode()).map(
        lambda b: b.decode("utf-8", "replace"))))
    def run(text):
        try:
            value = validator.parse(text)
        except Invalid as refused:
            assert refused.message.msgid
        else:
            for locale in ("zh_CN", "en"):
                assert isinstance(validator.display(value, locale), str)

    run()


@settings(max_examples=100, deadline=int(PER_INPUT * 1000))
@given(st.text(max_size=120))
def test_company_name_forms_take_any_text(text):
    assert isinstance(name_key(text), str)
    found = name_in_file(text)
    assert found is None or found.strip()


@settings(max_examples=30, deadline=5000)
@given(st.lists(st.text(max_size=300), max_size=30))
@example(["…"])  # a font without "…" prints "...", three characters for one
def test_the_pdf_writer_takes_any_text(lines):
    data = pdf.render("标题", lines)
    assert data.startswith(b"%PDF-")
