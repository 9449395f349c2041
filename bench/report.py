"""The one output convention every benchmark follows.

With ``--json`` a script prints one JSON object a line, each with exactly these keys:

- ``name``: the figure, e.g. ``telegram_start_burst``
- ``unit``: its unit; one ending in ``/s`` is better higher, any other (``ms``) better lower
- ``value``: the figure measured
- ``baseline_name``, ``baseline``: what it is compared with, measured in the same run
- ``ratio``: value / baseline
- ``target``: the ratio to reach (at least, for ``/s``; at most, otherwise), or null

``python -m bench`` reads these lines from every script and prints them as a table.
"""

from __future__ import annotations

import json
from typing import Any

KEYS = ("name", "unit", "value", "baseline_name", "baseline", "ratio", "target")


def figure(name: str, unit: str, value: float, baseline_name: str, baseline: float,
           target: float | None = None) -> dict[str, Any]:
    return {"name": name, "unit": unit, "value": round(value, 4),
            "baseline_name": baseline_name, "baseline": round(baseline, 4),
            "ratio": round(value / baseline, 4) if baseline else None, "target": target}


def higher_is_better(unit: str) -> bool:
    return unit.endswith("/s")


def met(row: dict[str, Any]) -> bool | None:
    if row.get("target") is None or row.get("ratio") is None:
        return None
    if higher_is_better(row["unit"]):
        return row["ratio"] >= row["target"]
    return row["ratio"] <= row["target"]


def emit(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), flush=True)
