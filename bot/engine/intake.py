"""What an accepted file means beyond its own checks: the rule its category gets, duplicates
among the merchant's files, notes for photos, and the name it is uploaded under.

Categories come from the flows (``files.category``); the few facts the flows do not carry
(the backend's Chinese name for an upload, whether it is a photo of the site) live here, and an
unknown category falls back to a scanned document named by its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from bot.engine import images
from bot.engine.consistency import Place, company_places, name_in_file, new_place_notes
from bot.engine.files import CheckedFile, FileRule, human_size
from bot.engine.messages import Invalid, Msg
from bot.engine.model import DocumentRef, FileSpec, State, Upload

SMALLER = "docs:smaller:"  # choice id prefix: a recompressed copy of an oversized scan


@dataclass(frozen=True)
class Category:
    upload_name: str  # as the backend labels it; file names and photo labels use it
    photo: bool = False  # a photo of the site (F-DEEP-5/6): duplicates refused, notes given
    scan: bool = False  # a scanned document: refused when blurred (F-STATUS-4)


def _scan(name: str) -> Category:
    return Category(name, scan=True)


CATEGORIES = {
    "business_license": _scan("营业执照"),
    "tax_registration": _scan("税务登记证"),
    "organisation_code": _scan("组织机构代码证"),
    "production_licence": _scan("生产许可证"),
    "iso_certificate": _scan("ISO认证证书"),
    "production_line": Category("生产线", photo=True),
    "warehouse": Category("仓库", photo=True),
    "equipment": Category("设备", photo=True),
    "export_orders": _scan("出口订单记录"),
    "customs_declarations": _scan("报关单据"),
    "trade_contracts": _scan("贸易合同"),
    "transaction_report": _scan("交易额报表"),
    "sm_extras": _scan("专利及行业奖项"),
}


def category(category_id: str) -> Category:
    """What is known about a category; an unknown one is checked like any file, no more."""
    return CATEGORIES.get(category_id) or Category(category_id)


def upload_rule(spec: FileSpec) -> FileRule:
    """Scans of documents are refused when blurred; photos of the site only get a warning."""
    if not category(spec.category).scan or spec.rule.sharp:
        return spec.rule
    return replace(spec.rule, sharp=True)


def photo_label(category_id: str, number: int) -> str:
    """The label the backend asks for (F-DEEP-5): 生产线1, 仓库2…"""
    return f"{category(category_id).upload_name}{number}"


@dataclass(frozen=True)
class Review:
    notes: tuple[Msg, ...] = ()
    offers: tuple[tuple[str, Msg], ...] = ()  # (choice id, label) the reply may carry


def review_upload(checked: CheckedFile, upload: Upload, spec: FileSpec, state: State,
                  company_keys: Mapping[str, str],
                  once: Callable[[str], bool] = lambda note: True) -> Review:
    """Refuse a duplicate (``Invalid``) or return the notes for an accepted file; ``once(key)``
    says whether a note given once per category is due (and marks it given)."""
    documents = state.documents
    same = [d for d in documents if d.category == spec.category]
    if any(d.sha256 == checked.sha256 for d in same):
        raise Invalid(Msg("You have already sent this file here; it is not stored twice."))
    kind = category(spec.category)
    notes: list[Msg] = list(checked.warnings)
    offers: list[tuple[str, Msg]] = []
    if kind.photo:
        _refuse_copies(checked, documents)
        if checked.sharpness is not None and checked.sharpness < images.PHOTO_SOFT:
            notes.append(Msg("This photo looks out of focus. It is accepted, but a sharp photo "
                             "shows your site better: hold the phone still and tap to focus."))
        if upload.compressed:
            if once(f"compressed:{spec.category}"):
                notes.append(Msg("Tip: the messenger compressed this photo. Sent as a file, a "
                                 "photo stays sharp."))
        elif checked.camera is False and once(f"camera:{spec.category}"):
            notes.append(Msg(
                "This photo carries no camera information, as a picture saved from the web "
                "or a screenshot would. That is fine if you took it yourself: the photos "
                "must show your real site, not pictures from the web."))
        notes.append(Msg("In the backend, label it “{label}”.",
                         label=photo_label(spec.category, len(same) + 1)))
    recommend = spec.rule.recommend_bytes
    if (recommend and checked.size > recommend and checked.kind in ("jpg", "png")
            and "jpg" in spec.rule.accept):
        notes.append(Msg("I can make a copy under {limit} that stays sharp, for you to upload "
                         "to the platform: choose “Smaller copy”.",
                         limit=human_size(recommend)))
        offers.append((SMALLER + spec.category, Msg("Smaller copy")))
    found = name_in_file(upload.name)
    if found:
        notes += new_place_notes(company_places(state.answers, company_keys),
                                 Place(found, Msg("file {name}", name=upload.name), False))
    return Review(tuple(notes), tuple(offers))


def _refuse_copies(checked: CheckedFile, documents: Sequence[DocumentRef]) -> None:
    """Among all the merchant's photos: the same picture twice is refused, even resized."""
    for index, doc in enumerate(documents):
        if not category(doc.category).photo:
            continue
        same_bytes = doc.sha256 == checked.sha256
        near = (checked.phash and doc.phash
                and images.distance(checked.phash, doc.phash) <= images.NEAR_BITS)
        if same_bytes or near:
            number = sum(1 for d in documents[:index + 1] if d.category == doc.category)
            raise Invalid(Msg(
                "This photo is the same picture as {name}, which you already sent as “{label}”. "
                "Reviewers want different views of your real site: please send another photo.",
                name=doc.name, label=photo_label(doc.category, number)))


def upload_names(documents: Sequence[DocumentRef]) -> list[str]:
    """File names for the upload package, one per document, in the order given.

    Documents are numbered by category in the order of ``CATEGORIES`` (``01_营业执照.png``,
    ``02_税务登记证.pdf``, several files of one category get ``_1``, ``_2``); photos are
    named by their label (``生产线_1.jpg``).
    """
    order = {cid: n for n, cid in enumerate(CATEGORIES)}
    present = sorted({d.category for d in documents if not category(d.category).photo},
                     key=lambda c: (order.get(c, len(order)), c))
    numbers = {cid: n for n, cid in enumerate(present, start=1)}
    totals = {cid: sum(1 for d in documents if d.category == cid) for cid in
              {d.category for d in documents}}
    seen: dict[str, int] = {}
    names = []
    for doc in documents:
        seen[doc.category] = seen.get(doc.category, 0) + 1
        base = category(doc.category).upload_name
        if category(doc.category).photo:
            names.append(f"{base}_{seen[doc.category]}.{doc.kind}")
            continue
        stem = f"{numbers[doc.category]:02d}_{base}"
        if totals[doc.category] > 1:
            stem += f"_{seen[doc.category]}"
        names.append(f"{stem}.{doc.kind}")
    return names
