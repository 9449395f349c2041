"""``python -m bench``: run every benchmark in bench/ and print one table.

    .venv/bin/python -m bench [--only NAME ...] [--json]

Each ``bench_*.py`` runs in its own process with ``--json`` (the convention is in
``bench/report.py``); its lines become rows: name, figure, baseline, ratio, target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.report import KEYS, met


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [p for p in found if any(name in p.stem for name in only)]
    return found


def run(script: Path) -> tuple[list[dict], str | None]:
    done = subprocess.run([sys.executable, str(script), "--json"], capture_output=True,
                          text=True, cwd=HERE.parent, check=False)
    rows = []
    for line in done.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and set(KEYS) <= set(row):
            rows.append(row)
    if done.returncode != 0 or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return rows, f"{script.name}: exit {done.returncode}: " + " | ".join(tail)
    return rows, None


def table(rows: list[dict]) -> str:
    header = ("name", "figure", "baseline", "ratio", "target", "")
    lines = [header]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        sense = ">=" if r["unit"].endswith("/s") else "<="
        target = "-" if r["target"] is None else f"{sense} {r['target']}"
        verdict = {True: "met", False: "NOT MET", None: ""}[met(r)]
        lines.append((r["name"], f"{r['value']:.1f} {r['unit']}",
                      f"{r['baseline']:.1f} ({r['baseline_name']})", ratio, target, verdict))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
                     .rstrip() for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="run the scripts whose name has one of these")
    parser.add_argument("--json", action="store_true", help="the rows, one JSON object a line")
    args = parser.parse_args()
    rows, failures = [], []
    for script in scripts(args.only):
        print(f"running {script.name}...", file=sys.stderr, flush=True)
        found, failure = run(script)
        rows += found
        if failure:
            failures.append(failure)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(table(rows))
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
