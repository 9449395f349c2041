"""Answers that must agree with the calendar and with each other (F-DOC-1, F-STATUS-4).

Reviewers reject expired documents and information that does not match the license. Two things
are checked here, purely (``today`` is passed in):

- the business license's end date: expired is refused in a flow that collects the license
  (there is no point submitting it), expiring within ``EXPIRING_DAYS`` gets a warning;
- the company name: the same name written in two forms (全角/半角, 有限公司 / Co., Ltd., stray
  spaces) in two places is pointed out, and so are two different Chinese names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.engine.messages import Invalid, Msg
from bot.engine.model import Flow

EXPIRING_DAYS = 60
LICENSE_END = "license_end_date"
LICENSE_CATEGORY = "business_license"
COMPANY_VALIDATOR = "company_name"
LONG_TERM = "long_term"  # the date validator's value for 长期

_SUFFIX = re.compile(
    r"(有限责任公司|股份有限公司|有限公司|co\s*[.,]?\s*,?\s*ltd\.?|company\s+limited|"
    r"corporation\s+limited|limited|ltd\.?)$", re.IGNORECASE)
_NOISE = re.compile(r"[\s.,·・&'’\-()（）\[\]]")
_NAME_IN_FILE = re.compile(
    r".*?(?:有限责任公司|股份有限公司|有限公司|co\s*[.,]?\s*,?\s*ltd\.?|company\s+limited)",
    re.IGNORECASE)


# -- the license's term ----------------------------------------------------------------------


@dataclass(frozen=True)
class Validity:
    status: str  # unknown | long_term | valid | expiring | expired
    end: date | None = None
    days: int | None = None  # days left (negative: days since it expired)


def license_validity(answers: Mapping[str, Any], today: date) -> Validity:
    value = answers.get(LICENSE_END)
    if not isinstance(value, str):
        return Validity("unknown")
    if value == LONG_TERM:
        return Validity("long_term")
    try:
        end = date.fromisoformat(value)
    except ValueError:
        return Validity("unknown")
    days = (end - today).days
    if days < 0:
        return Validity("expired", end, days)
    if days <= EXPIRING_DAYS:
        return Validity("expiring", end, days)
    return Validity("valid", end, days)


def validity_note(validity: Validity) -> Msg | None:
    if validity.status == "expired":
        return Msg("The business license expired on {date}. Reviewers reject expired "
                   "documents: have the license renewed before you submit anything.",
                   date=validity.end)
    if validity.status == "expiring":
        return Msg("The business license expires on {date}, in {days} days. Submit well before "
                   "then and plan the renewal: an expired license is a common reason for "
                   "rejection.", date=validity.end, days=validity.days)
    return None


# -- the company name ------------------------------------------------------------------------


def name_key(name: str) -> str:
    """The name with width, case, spacing, punctuation and the legal-form suffix normalised:
    two names with the same key are the same company written in two forms."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = _SUFFIX.sub("ltd", text)
    return _NOISE.sub("", text)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in text)


def name_in_file(file_name: str) -> str | None:
    """A company name written into a file name (``宁波海岸贸易有限公司营业执照.jpg``), if any."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    for part in re.split(r"[_/\\]+", stem):
        match = _NAME_IN_FILE.match(part.lstrip("0123456789-— "))
        if match and name_key(match.group(0)) not in ("ltd", ""):
            return match.group(0).strip()
    return None


@dataclass(frozen=True)
class Place:
    name: str
    where: Msg
    typed: bool  # an answer (True) or read from a file name (False)


def name_notes(places: Iterable[Place]) -> list[Msg]:
    """One note for each pair of places whose company names disagree."""
    places = list(places)
    notes: list[Msg] = []
    for i, first in enumerate(places):
        for second in places[i + 1:]:
            if first.name == second.name:
                continue
            if name_key(first.name) == name_key(second.name):
                notes.append(Msg(
                    "“{first}” ({first_where}) and “{second}” ({second_where}) are the same "
                    "company written in two forms. Reviewers compare every place with the "
                    "license: write the name exactly as the license does, everywhere.",
                    first=first.name, first_where=first.where,
                    second=second.name, second_where=second.where))
            elif first.typed and second.typed and _has_cjk(first.name) and _has_cjk(
                    second.name):
                notes.append(Msg(
                    "“{first}” ({first_where}) and “{second}” ({second_where}) are different "
                    "names. Every form and document must carry the company name exactly as "
                    "on the business license.",
                    first=first.name, first_where=first.where,
                    second=second.name, second_where=second.where))
    return notes


def company_places(answers: Mapping[str, Any], company_keys: Mapping[str, str],
                   file_names: Iterable[str] = ()) -> list[Place]:
    """Every place a company name appears: answers (``company_keys``: answer key -> label
    msgid) and file names of the merchant's documents."""
    places = [Place(answers[key], Msg(label), True) for key, label in company_keys.items()
              if isinstance(answers.get(key), str)]
    for file_name in file_names:
        found = name_in_file(file_name)
        if found:
            places.append(Place(found, Msg("file {name}", name=file_name), False))
    return places


def new_place_notes(places: list[Place], new: Place) -> list[Msg]:
    """Notes about ``new`` against the places already known (not among themselves)."""
    return [n for other in places for n in name_notes([other, new])]


def company_keys(flows: Mapping[str, Flow]) -> dict[str, str]:
    """Answer key -> label msgid of every question that asks for a company name."""
    return {
        step.answer_key(flow.id): step.label or step.answer_key(flow.id)
        for flow in flows.values() for step in flow.questions()
        if step.kind == "text" and step.validator == COMPANY_VALIDATOR
    }


def collects_license(flow: Flow) -> bool:
    return any(s.files and s.files.category == LICENSE_CATEGORY for s in flow.steps.values())


# -- checks run when an answer is given ------------------------------------------------------


def check_answer(key: str, value: Any, *, answers: Mapping[str, Any], today: date,
                 collects_license: bool, company_keys: Mapping[str, str],
                 file_names: Iterable[str]) -> tuple[Msg, ...]:
    """Notes for a valid answer, or ``Invalid`` when it must not be accepted at all."""
    if isinstance(value, Mapping) and value.get("assumed"):  # an amount without a currency
        return (Msg("No currency was given, so I read the amount as US dollars. If you meant "
                    "yuan, type /back and write it with 元 or RMB, for example 300万元."),)
    if key == LICENSE_END:
        validity = license_validity({LICENSE_END: value}, today)
        note = validity_note(validity)
        if validity.status == "expired" and collects_license:
            raise Invalid(Msg("{problem} Once you have the renewed license, type /back to send "
                              "its scan, then enter its new end date. Or type /cancel to stop "
                              "here and go back to the main menu; your answers are kept.",
                              problem=note))
        return (note,) if note else ()
    if key in company_keys and isinstance(value, str):
        others = {k: v for k, v in answers.items() if k != key}
        places = company_places(others, company_keys, file_names)
        return tuple(new_place_notes(places, Place(value, Msg(company_keys[key]), True)))
    return ()
