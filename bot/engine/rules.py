"""Named rules for computed branches and named effects, resolved from the flow files by name.

The thresholds come from ``dialogs/figures.yaml`` so an operator can correct them without a
release; the rules only compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.engine.messages import Msg
from bot.engine.model import RecordCertification, State
from bot.engine.validators import Money


@dataclass(frozen=True)
class Gap:
    """One unmet condition and how to close it."""

    key: str
    problem: Msg
    remedy: Msg
    required: bool  # False: favoured, not a prerequisite


@dataclass(frozen=True)
class Check:
    outcome: str
    gaps: tuple[Gap, ...] = ()


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def export_in_usd(money: Any, figures: Mapping[str, str]) -> Decimal | None:
    """The export value in USD, converted at the operator's typical rate when needed."""
    if not isinstance(money, dict):
        return None
    amount = _decimal(money.get("amount"))
    currency = money.get("currency", "USD")
    if amount is None:
        return None
    if currency == "USD":
        return amount
    rate = _decimal(figures.get(f"usd_per_{currency.lower()}"))
    return amount * rate if rate is not None else None


def _as_usd(money: Any, usd: Decimal | None) -> Msg | Money | str:
    """The amount the merchant gave, with its US-dollar value when it is another currency."""
    if not isinstance(money, dict):
        return "—"
    given = Money(money["amount"], money.get("currency", "USD"))
    if given.currency == "USD" or usd is None:
        return given
    return Msg("{amount} (about {usd})", amount=given, usd=Money(usd.quantize(Decimal(1)), "USD"))


def strength_merchant(state: State, figures: Mapping[str, str]) -> Check:
    """F-SM-2/4/5/11: which conditions the merchant's answers leave unmet.

    Required: basic and one in-depth certification (F-SM-2). Favoured: paid membership (F-SM-4),
    a stable export record, of which the source gives annual exports above 500,000 USD as an
    example (F-SM-5), response rate and rating (F-SM-11 names them as ways to raise the pass
    rate, not as prerequisites)."""
    a = state.answers
    gaps: list[Gap] = []
    if a.get("sm_basic") != "passed":
        gaps.append(Gap(
            "basic",
            Msg("Basic certification has not passed yet."),
            Msg("Complete basic certification first (main menu › Basic certification); "
                "it is a prerequisite."),
            True,
        ))
    if a.get("sm_deep") not in ("factory", "trade", "both"):
        gaps.append(Gap(
            "deep",
            Msg("No in-depth certification (factory or trade capability) has passed."),
            Msg("Pass at least one in-depth certification: factory certification or trade "
                "capability certification."),
            True,
        ))
    if a.get("sm_membership") == "free":  # "other" may well be paid: nothing to say
        gaps.append(Gap(
            "membership",
            Msg("You have a free account: paid members (e.g. Gold Supplier) are favoured and "
                "free accounts may be limited."),
            Msg("Upgrading to a paid membership usually raises the pass rate."),
            False,
        ))
    exports = export_in_usd(a.get("sm_exports"), figures)
    example = Money(figures["sm_export_usd"], "USD")
    if exports is None or exports <= Decimal(figures["sm_export_usd"]):
        gaps.append(Gap(
            "exports",
            Msg("The bar is a stable export record; the guide's example of one is annual "
                "exports above {example}, and yours are {exports}.",
                example=example, exports=_as_usd(a.get("sm_exports"), exports)),
            Msg("Build a stable export record: win more export orders through P4P ads or RFQ "
                "(Request for Quotation), and keep orders and customs declarations on file."),
            False,
        ))
    rate = a.get("sm_response_rate")
    if not isinstance(rate, (int, float)) or rate * 100 <= float(figures["sm_response_pct"]):
        gaps.append(Gap(
            "response",
            Msg("Inquiry response rate is not above {sm_response_pct}%.",
                sm_response_pct=figures["sm_response_pct"]),
            Msg("Answer every inquiry quickly to lift the response rate above "
                "{sm_response_pct}%.", sm_response_pct=figures["sm_response_pct"]),
            False,
        ))
    rating = a.get("sm_rating")
    if not isinstance(rating, (int, float)) or rating <= float(figures["sm_rating"]):
        gaps.append(Gap(
            "rating",
            Msg("Buyer rating is not above {sm_rating} stars.", sm_rating=figures["sm_rating"]),
            Msg("Raise buyer ratings above {sm_rating} stars: follow up every order and ask "
                "satisfied buyers for a review.", sm_rating=figures["sm_rating"]),
            False,
        ))
    required = [g for g in gaps if g.required]
    return Check("gaps" if required else "ready", tuple(gaps))


TRADE_CATEGORIES = ("export_orders", "customs_declarations", "trade_contracts")
# Which reported certifications a completed renewal covers (as bot/reminders reads it).
RENEWED = {"enterprise": ("basic", "factory", "trade"), "strength_merchant": ("strength_merchant",),
           "both": ("basic", "factory", "trade", "strength_merchant")}


def trade_documents(state: State, figures: Mapping[str, str]) -> Check:
    """F-DEEP-3: at least one kind of trade document is needed before going on."""
    has = any(d.category in TRADE_CATEGORIES for d in state.documents)
    return Check("some" if has else "none")


def status_subject(state: State, figures: Mapping[str, str]) -> Check:
    """Only a passed Strength Merchant application brings the badge (F-SM-10, F-FAQ-2)."""
    sm = state.answers.get("status_cert") == "strength_merchant"
    return Check("strength_merchant" if sm else "certification")


def renewal_reminders(state: State, figures: Mapping[str, str]) -> Check:
    """The yearly reminders need a pass date: promise them only for a renewal of something the
    merchant reported as passed (main menu › Review status)."""
    covered = RENEWED.get(str(state.answers.get("renewal_done")), ())
    passed = any(state.certifications.get(kind, {}).get("status") == "passed"
                 for kind in covered)
    return Check("scheduled" if passed else "no_pass_date")


RULES: dict[str, tuple[tuple[str, ...], Callable[[State, Mapping[str, str]], Check]]] = {
    "strength_merchant": (("ready", "gaps"), strength_merchant),
    "trade_documents": (("some", "none"), trade_documents),
    "status_subject": (("strength_merchant", "certification"), status_subject),
    "renewal_reminders": (("scheduled", "no_pass_date"), renewal_reminders),
}


def record_status(state: State) -> list[RecordCertification]:
    """Remember what the merchant reported on the review status of a certification."""
    kind = state.answers.get("status_cert")
    status = state.answers.get("status_value")
    if not kind or not status:
        return []
    reason = state.answers.get("status_reason") if status == "rejected" else None
    state.certifications[kind] = {"status": status, "reason": reason}
    return [RecordCertification(kind=kind, status=status, reason=reason)]


EFFECTS: dict[str, Callable[[State], list[RecordCertification]]] = {
    "record_status": record_status,
}
