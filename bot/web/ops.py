"""Health and metrics on the bot's web server (whichever serves the upload page).

- ``GET /healthz``: 200 when the database answers and its schema is at the code's newest
  migration; 503 otherwise (a load balancer then sends the traffic to another worker).
- ``GET /metrics``: ``bot.metrics`` in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.store.db import Database

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 5.0  # seconds; a database slower than this counts as down


class Operations:
    def __init__(self, db: Database, timeout: float = HEALTH_TIMEOUT) -> None:
        self.db = db
        self.timeout = timeout

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)

    async def healthz(self, _request: web.Request) -> web.Response:
        try:
            current, head = await asyncio.wait_for(self.db.current_revision(), self.timeout)
        except (TimeoutError, OSError, SQLAlchemyError) as exc:
            # The exception's type only: its text may carry the URL with its password.
            log.warning("health check: database unreachable (%s)", type(exc).__name__)
            return web.json_response({"status": "database unreachable",
                                      "error": type(exc).__name__}, status=503)
        if current != head:
            return web.json_response({"status": "schema not current", "revision": current,
                                      "head": head}, status=503)
        return web.json_response({"status": "ok", "revision": current})

    async def metrics(self, _request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response
