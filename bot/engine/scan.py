"""The conversation around a read license scan. Pure.

The read comes back as a ``ScanRead`` event, usually while the merchant is already answering
the next question. The guide then says in one message what it read, with what the merchant typed
earlier where that differs, and offers 正确 / 修改. What was read is kept only among the
merchant's answers (``answers["license_scan"]``), so typed answers can be compared with it
later; confirmed values become the answers themselves and their questions are skipped.
"""

from __future__ import annotations

from typing import Any

from babel.lists import format_list

from bot.engine.consistency import (
    LICENSE_CATEGORY,
    collects_license,
    license_validity,
    validity_note,
)
from bot.engine.license import FIELDS, LEGAL, NAME, TERM, USCC, LicenseFields
from bot.engine.messages import N_, Msg
from bot.engine.model import Option, ScanRead, Step
from bot.engine.validators import LONG_TERM
from bot.i18n import SUPPORTED

SCAN = "license_scan"  # answers key: what the scan says, and what the merchant made of it
OK, EDIT = "scan:ok", "scan:edit"
PREFIX = "scan:"
OPTIONS = (Option(OK, N_("Correct"), None), Option(EDIT, N_("Edit"), None))

FIELD_NAMES = {
    NAME: Msg("Company name"),
    USCC: Msg("Unified social credit code"),
    LEGAL: Msg("Legal representative (法定代表人)"),
    TERM: Msg("Business term (营业期限)"),
}
TITLES = {
    "legal_representative": Msg("Legal representative (法定代表人)"),
    "person_in_charge": Msg("Person in charge (负责人)"),
    "operator": Msg("Operator (经营者)"),
    "managing_partner": Msg("Managing partner (执行事务合伙人)"),
    "investor": Msg("Investor (投资人)"),
}
UNREADABLE = Msg("I could not read the license scan well enough (glare, a turned page or a "
                 "photo of a screen make that hard), so please answer the questions yourself.")


def shown(key: str, value: str) -> Msg | str:
    if key == TERM:
        return Msg("long-term (长期)") if value == LONG_TERM else Msg("until {date}", date=value)
    return value


def _line(label: Msg, value: Msg | str) -> Msg:
    return Msg("{label}: {value}", label=label, value=value)


def on_read(turn, event: ScanRead) -> None:
    """``turn``: the machine's turn (say, ask, state)."""
    s = turn.s
    if not any(d.sha256 == event.sha256 and d.category == LICENSE_CATEGORY
               for d in s.documents):
        return  # the scan was replaced or erased meanwhile: its read no longer applies
    fields = event.fields
    if fields is None or not fields.readable:
        turn.say(UNREADABLE)
        return
    found = fields.found
    s.answers[SCAN] = {"sha256": event.sha256, "status": "read", "values": found,
                       "title": fields.legal_title}
    parts: list[Msg | str] = [found_message(turn, fields)]
    missing = [FIELD_NAMES[k] for k in FIELDS if k not in found
               and not (k == USCC and fields.uscc_unchecked)]
    if fields.uscc_unchecked:
        parts.append(Msg("The credit code on the scan fails its check character (a character "
                         "misread or misprinted), so I will not use it: please type it from "
                         "the license when I ask."))
    if missing:
        parts.append(Msg("Not read: {fields}. I will ask you for them.",
                         fields=_joined(turn, missing)))
    parts += differences(s.answers, found)
    note = validity_note(license_validity(found, turn.today))
    if note:
        parts.append(note)
    parts.append(Msg("Is this right?"))
    turn.say(*parts, choices=turn.g.render.choices(s.locale, OPTIONS))


def typed_choice(turn, text: str) -> str | None:
    """正确 / 修改 typed rather than pressed (channels without buttons), while a read waits."""
    scan = turn.s.answers.get(SCAN)
    if not isinstance(scan, dict) or scan.get("status") != "read":
        return None
    wanted = text.strip().rstrip(".。!！").casefold()
    for option in OPTIONS:
        if wanted in {turn.g.render.label(loc, option).casefold() for loc in SUPPORTED}:
            return option.id
    return None


def _joined(turn, names: list[Msg]) -> str:
    return format_list([turn.t(n) for n in names], locale=turn.s.locale)


def found_message(turn, fields: LicenseFields) -> Msg:
    lines = []
    for key, value in fields.found.items():
        label = TITLES.get(fields.legal_title or "", FIELD_NAMES[LEGAL]) if key == LEGAL else (
            FIELD_NAMES[key])
        lines.append(turn.t(_line(label, shown(key, value))))
    return Msg("From the business license scan I read:\n{lines}", lines="\n".join(lines))


def differences(answers: dict[str, Any], read: dict[str, str]) -> list[Msg]:
    """Answers typed before the read that the license contradicts."""
    return [n for k in FIELDS if k in read and isinstance(answers.get(k), str)
            and (n := mismatch(k, answers[k], read[k]))]


def mismatch(key: str, typed: str, read: str) -> Msg | None:
    if typed == read:
        return None
    if key == USCC and len(typed) == len(read):
        off = [i for i, (a, b) in enumerate(zip(typed, read, strict=True)) if a != b]
        if len(off) == 1:
            i = off[0]
            return Msg("The credit code {typed} differs from the one on the license, {read}, "
                       "in one character: character {position} is {typed_char} but the "
                       "license has {read_char}. Reviewers compare it character by character.",
                       typed=typed, read=read, position=i + 1, typed_char=typed[i],
                       read_char=read[i])
    return Msg("{field}: you wrote “{typed}”, but the license scan reads “{read}”. Reviewers "
               "compare every field with the license: check which one is right.",
               field=FIELD_NAMES[key], typed=shown(key, typed), read=shown(key, read))


def typed_note(key: str, value: Any, answers: dict[str, Any]) -> Msg | None:
    """A typed answer against what the scan says, if it was read."""
    scan = answers.get(SCAN)
    if key not in FIELDS or not isinstance(scan, dict) or not isinstance(value, str):
        return None
    read = scan.get("values", {}).get(key)
    return mismatch(key, value, read) if isinstance(read, str) else None


def refused_note(key: str, text: str, answers: dict[str, Any]) -> Msg | None:
    """A typed credit code the validator refused, against the scan's: a code one character
    off fails its check character, and the merchant should see which character."""
    if key != USCC:
        return None
    return typed_note(key, "".join(text.split()).upper(), answers)


def on_choice(turn, choice_id: str) -> None:
    s = turn.s
    scan = s.answers.get(SCAN)
    step = turn.step
    if not isinstance(scan, dict) or scan.get("status") != "read":
        turn.say(Msg("That choice belongs to an earlier question; here is the current one."))
    elif choice_id == OK:
        filled = confirm(s.answers, scan, turn.today)
        turn.say(Msg("Thank you. I keep the scan for comparison only.") if not filled else Msg("Thank you. I filled in {fields} from the license and will skip those "
                     "questions; type /back to change one.",
                     fields=_joined(turn, [FIELD_NAMES[k] for k in filled])))
        if step is not None and skips(turn, step):
            turn.advance(step)
            return
    else:
        scan["status"] = "edit"
        turn.say(Msg("All right: answer the questions yourself, and I will point out anything "
                     "that differs from the scan."))
    if step is not None:
        turn.ask(step)
    else:
        turn.resume()


def confirm(answers: dict[str, Any], scan: dict[str, Any], today) -> list[str]:
    """The read values become the answers; an expired end date is not taken (the flow refuses
    it: the merchant needs the renewed license)."""
    filled = []
    for key, value in scan.get("values", {}).items():
        if key == TERM and license_validity({TERM: value}, today).status == "expired":
            continue
        answers[key] = value
        filled.append(key)
    scan["status"] = "confirmed"
    scan["filled"] = filled
    return filled


def skips(turn, step: Step) -> bool:
    """A question answered by a confirmed scan, in a flow that collects the license, is not
    asked again (/back still reaches it)."""
    scan = turn.s.answers.get(SCAN)
    if step.kind != "text" or not isinstance(scan, dict) or not collects_license(turn.flow):
        return False
    key = step.answer_key(turn.s.flow)
    return (scan.get("status") == "confirmed" and key in scan.get("filled", ())
            and turn.s.answers.get(key) == scan["values"].get(key))
