"""Read-only looks at a merchant's conversation, for channels and the upload page.

Thin wrappers over ``Service.peek`` and ``Service.applied``: the service owns the state (its
cache, the sealed fields), so a look never reads the database behind its back. The answer is a
hint that a concurrent turn may already have made stale.
"""

from __future__ import annotations

from bot.engine.model import Expect
from bot.service import Service


async def expectation(service: Service, channel: str, user_key: str) -> tuple[str, Expect]:
    """The merchant's locale and what the current question expects."""
    result = await service.peek(channel, user_key)
    return result.locale, result.expects


async def applied(service: Service, channel: str, update_id: str) -> bool:
    """Whether the service has already applied ``update_id`` for ``channel``."""
    return await service.applied(channel, update_id)
