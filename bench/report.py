"""Printing a benchmark's result as a Markdown table and saving it as JSON in bench/results/."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load_average(values: tuple[float, float, float] | None = None) -> str:
    """The 1, 5 and 15 minute load averages (now, or `values` taken earlier) as a table
    cell: the machine is shared, so every result says how busy it was."""
    return " / ".join(f"{x:.1f}" for x in values or os.getloadavg())


def report(scenario: str, result: Mapping[str, object]) -> Path:
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{scenario}_{int(time.time())}.json"
    out.write_text(json.dumps(dict(result), indent=2))
    print(f"\nJSON: bench/results/{out.name}")
    return out
