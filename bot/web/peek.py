"""Read-only looks at a merchant's conversation, for channels and the upload page.

The service changes state; these only read it, outside its lock, so a caller must treat the
answer as a hint that a concurrent turn may already have made stale.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.engine.model import Expect, State
from bot.service import Service
from bot.store.models import Merchant, ProcessedUpdate


async def expectation(service: Service, channel: str, user_key: str) -> tuple[str, Expect]:
    """The merchant's locale and what the current question expects."""
    async with service.db.session() as session:
        merchant = await session.scalar(
            select(Merchant).where(Merchant.channel == channel, Merchant.user_key == user_key))
    if merchant is None:
        return service.default_locale, Expect("none")
    # The service may seal parts of the stored state (e.g. ID numbers encrypted at rest).
    unseal = getattr(service, "unseal", None)
    data = unseal(merchant.state or {}) if unseal is not None else (merchant.state or {})
    state = State(locale=merchant.locale, flow=data.get("flow"), step=data.get("step"),
                  pending=dict(data.get("pending") or {}))
    return merchant.locale, service.guide.expects(state)


async def applied(service: Service, channel: str, update_id: str) -> bool:
    """Whether the service has already applied ``update_id`` for ``channel``."""
    async with service.db.session() as session:
        found = await session.scalar(select(ProcessedUpdate.id).where(
            ProcessedUpdate.channel == channel, ProcessedUpdate.update_key == update_id))
    return found is not None
