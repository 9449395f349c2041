"""What a reminder says, in the merchant's language: what to renew or check, where in the
backend (a breadcrumb of its menu labels), what to prepare, and what the merchant can answer.

Every statement restates a fact of the guide (F-RENEW-*, F-DOC-1, F-STATUS-*, F-DEEP-*,
F-SM-8); figures come from ``dialogs/figures.yaml`` through the renderer.
"""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date

from bot.engine.messages import Msg
from bot.engine.model import Choice, Reply
from bot.engine.render import CERT_NAMES, Renderer
from bot.reminders.plan import BOOK, EVE, LICENSE_END, RENEWAL, REVIEW

CENTER = ("My Alibaba", "企业管理", "认证中心")
FACTORY = (*CENTER, "工厂认证")
STRENGTH = ("My Alibaba", "企业管理", "实力商家申请")

TYPICAL = {
    "basic": Msg("{basic_review_days} days"),
    "factory": Msg("{deep_review_workdays} working days"),
    "trade": Msg("{deep_review_workdays} working days"),
    "strength_merchant": Msg("{sm_review_workdays} working days"),
}
PREPARE = {
    "basic": Msg("your valid business license (营业执照), renewed if it has expired; the "
                 "company name and legal representative exactly as on it; a reachable company "
                 "email and phone"),
    "factory": Msg("a valid business license, production license (生产许可证) and ISO "
                   "certificate if you have one: clear, not expired, and consistent with "
                   "each other"),
    "trade": Msg("a valid business license and your latest trade data: export order records, "
                 "customs declarations (报关单据) or trade contracts"),
    "strength_merchant": Msg("your latest trade data: the current 交易额报表 (transaction "
                             "report) exported from 数据管家 (Data manager), as PDF or Excel; "
                             "your enterprise certification must stay valid too"),
}
DISCLAIMER = Msg("Figures are typical values, last reviewed {reviewed}; the page in your backend "
                 "is authoritative.")
TEXT_ACTIONS = Msg("Reply /reminders done when it is done, /reminders snooze to be reminded "
                   "tomorrow, or /reminders snooze week to be reminded in a week.")

DONE = "done"
SNOOZE_DAY = "snooze_day"
SNOOZE_WEEK = "snooze_week"
CANCEL = "cancel"
OPEN = "open"
STATUS = "status"
PREFIX = "rem"
ACTION_LABELS = {
    DONE: Msg("Done"),
    SNOOZE_DAY: Msg("Remind me tomorrow"),
    SNOOZE_WEEK: Msg("Remind me in a week"),
    CANCEL: Msg("Cancel this reminder"),
    STATUS: Msg("Update the status"),
}


def choice_id(reminder_id: int, action: str) -> str:
    return f"{PREFIX}:{reminder_id}:{action}"


class Texts:
    """Renders reminders for one locale."""

    def __init__(self, render: Renderer, locale: str) -> None:
        self.render = render
        self.locale = locale

    def t(self, message: Msg | str) -> str:
        return self.render.text(self.locale, message)

    def day(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)

    def moment(self, local: datetime) -> str:
        return f"{self.day(local.date())} {local:%H:%M}"

    def when(self, anchor: date, today: date) -> str:
        days = (anchor - today).days
        shown = self.day(anchor)
        if days > 1:
            return self.t(Msg("on {date}, in {days} days", date=shown, days=days))
        if days == 1:
            return self.t(Msg("tomorrow, {date}", date=shown))
        if days == 0:
            return self.t(Msg("today, {date}", date=shown))
        return self.t(Msg("on {date}, which has passed", date=shown))

    def item(self, subject: str) -> str:
        return self.t(CERT_NAMES.get(subject, subject))

    def where(self, path: tuple[str, ...]) -> str:
        return self.t(Msg("Where: {path}", path=self.render.breadcrumb(self.locale, path)))

    def prepare(self, what: Msg) -> str:
        return self.t(Msg("What to prepare: {items}", items=self.t(what)))

    # -- one reminder ----------------------------------------------------------------------
    def body(self, kind: str, subject: str, anchor: date, today: date) -> list[str]:
        if kind == RENEWAL:
            path = STRENGTH if subject == "strength_merchant" else CENTER
            return [
                self.t(Msg("⏰ Time to renew: {item}. Its yearly anniversary is {when}.",
                           item=self.item(subject), when=self.when(anchor, today))),
                self.t(Msg("Certification and the Strength Merchant badge are renewed every "
                           "year; a lapse hurts your store's reputation. Check that everything "
                           "on file is still valid and renew in time.")),
                self.where(path),
                self.prepare(PREPARE.get(subject, PREPARE["basic"])),
            ]
        if kind == LICENSE_END:
            return [
                self.t(Msg("⏰ Your business license (营业执照) ends {when}.",
                           when=self.when(anchor, today))),
                self.t(Msg("Renew it in time (营业执照续期), then update it in 认证中心: an "
                           "expired license is a common reason for rejection. When you have "
                           "the new license, tell me its end date: main menu › Renewal.")),
                self.where(CENTER),
                self.prepare(Msg("the renewed business license as a clear scan, JPG or PNG, "
                                 "under {license_recommend_mb} MB recommended")),
            ]
        if kind == REVIEW:
            return [
                self.t(Msg("🔎 {item}: you submitted it on {date}. The typical review time, "
                           "{typical}, has passed. Has the status changed?",
                           item=self.item(subject), date=self.day(anchor),
                           typical=self.t(TYPICAL.get(subject, TYPICAL["basic"])))),
                self.t(Msg("Look at the 审核状态 (review status): 审核中, 通过, 未通过 or "
                           "需补充材料; click 查看详情 (View details) for the reviewers' "
                           "feedback. Then tell me what it shows: main menu › Review status.")),
                self.where(CENTER),
                self.t(DISCLAIMER),
            ]
        if kind in (BOOK, EVE):
            first = (
                Msg("📅 Your on-site inspection is planned {when}. Visits are usually booked "
                    "{book_ahead_weeks} weeks in advance: confirm the date with your "
                    "inspection body now (its 联系 (Contact) button on the certification "
                    "page), and ask for quotes early.", when=self.when(anchor, today))
                if kind == BOOK else
                Msg("📅 Your on-site inspection is {when}: the inspection body verifies your "
                    "real site.", when=self.when(anchor, today))
            )
            parts = [
                self.t(first),
                self.where(FACTORY),
                self.prepare(Msg("your production line (生产线), warehouse (仓库) and "
                                 "equipment (设备) ready to be shown, your business license, "
                                 "and your production license (生产许可证) and ISO certificate "
                                 "if you have one")),
            ]
            if kind == BOOK:
                parts.append(self.t(DISCLAIMER))
            return parts
        return [kind]

    def reply(self, reminder_id: int, kind: str, subject: str, anchor: date, today: date, *,
              buttons: bool = True, listed: bool = False) -> Reply:
        """A reminder as sent (``listed``: as opened from ``/reminders``, with Cancel)."""
        parts = self.body(kind, subject, anchor, today)
        actions = [DONE, SNOOZE_DAY, SNOOZE_WEEK]
        if kind == REVIEW:
            actions.append(STATUS)
        if listed:
            actions.append(CANCEL)
        if not buttons:
            parts.append(self.t(TEXT_ACTIONS))
            return Reply("\n\n".join(parts))
        choices = tuple(Choice(choice_id(reminder_id, a), self.t(ACTION_LABELS[a]))
                        for a in actions)
        return Reply("\n\n".join(parts), choices)

    # -- the list --------------------------------------------------------------------------
    def title(self, kind: str, subject: str, anchor: date, lead: int) -> str:
        shown = self.day(anchor)
        if kind == RENEWAL:
            return self.t(Msg("{item}: renewal on {date} ({lead} days before)",
                              item=self.item(subject), date=shown, lead=lead))
        if kind == LICENSE_END:
            return self.t(Msg("Business license ends on {date} ({lead} days before)",
                              date=shown, lead=lead))
        if kind == REVIEW:
            return self.t(Msg("{item}: check the review status", item=self.item(subject)))
        if kind == BOOK:
            return self.t(Msg("Book the on-site inspection of {date}", date=shown))
        if kind == EVE:
            return self.t(Msg("On-site inspection tomorrow, {date}", date=shown))
        return kind
