"""What the 微信客服 channel says itself, and the staff alerts it writes. Pure."""

from __future__ import annotations

from datetime import date

from bot.engine.messages import Msg
from bot.engine.model import Reply
from bot.engine.render import CERT_NAMES
from bot.reminders.plan import LICENSE_END, RENEWAL
from bot.reminders.texts import PREFIX

UNREADABLE = Msg("I can read text, pictures and files; this kind of message I cannot read yet.")
NOT_DOWNLOADED = Msg("I could not fetch that file from WeCom. Please send it again.")
SUBJECTS = {**CERT_NAMES, "license": Msg("business license"),
            "inspection": Msg("on-site inspection")}
EXTENSIONS = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png",
              "application/pdf": "pdf",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
              "application/vnd.ms-excel": "xls"}


def extension(content_type: str) -> str:
    return EXTENSIONS.get(content_type, "bin")


def reminder_id(replies: list[Reply]) -> int | None:
    """The reminder a reply is about, from its choices' ids (``rem:<id>:<action>``)."""
    for reply in replies:
        for choice in reply.choices:
            prefix, _, rest = choice.id.partition(":")
            number = rest.partition(":")[0]
            if prefix == PREFIX and number.isdigit():
                return int(number)
    return None


def reminder_alert(kind: str, subject: str, anchor: date, today: date, merchant: str) -> Msg:
    """The staff alert for a reminder kf cannot deliver (48 hours after the merchant's last
    message): merchant, subject, date."""
    what = SUBJECTS.get(subject, subject)
    days = (anchor - today).days
    if kind in (LICENSE_END, RENEWAL) and days >= 0:
        return Msg("Merchant {merchant}: {subject} expires in {days} days ({date}); please "
                   "contact them.", merchant=merchant, subject=what, days=days,
                   date=anchor.isoformat())
    return Msg("Merchant {merchant}: reminder about {subject} for {date}; WeChat cannot reach "
               "them (over 48 hours since their last message). Please contact them.",
               merchant=merchant, subject=what, date=anchor.isoformat())
