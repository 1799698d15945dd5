"""`make bench`'s closing table: every suite's figures in one Markdown table, each with
its baseline from the same run, the ratio and the target (taken from the measure's own
"(target …)" note, so a target is written once, where the figure is made)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_TARGET = re.compile(r"\s*\((?:[^()]*;\s*)?target:?\s*([^()]*)\)")


def split_target(measure: str) -> tuple[str, str]:
    """('replay (s) (target 1.5x)') -> ('replay (s)', '1.5x')."""
    found = _TARGET.search(measure)
    if found is None:
        return measure.strip(), ""
    return (measure[:found.start()] + measure[found.end():]).strip(), found.group(1).strip()


def markdown(results: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]]) -> str:
    """One table from (suite, header, rows). A header beyond (measure, plait, baseline,
    ratio) names several baselines or ratios; they are joined into one cell, named."""
    lines = ["| suite | measure | Plait | baseline (same run) | ratio | target |",
             "|---|---|---|---|---|---|"]
    for suite, header, rows in results:
        for row in rows:
            cells = [str(c) for c in row] + [""] * (len(header) - len(row))
            measure, target = split_target(cells[0].strip())
            plait = cells[1] if len(cells) > 1 else ""
            rest = list(zip(header[2:], cells[2:]))
            ratios = [(h, c) for h, c in rest if "/" in h or h == "ratio"]
            baselines = [(h, c) for h, c in rest if (h, c) not in ratios]
            lines.append("| " + " | ".join([
                suite, measure.replace("|", "/"), plait,
                _join(baselines, len(baselines) > 1), _join(ratios, len(ratios) > 1),
                target]) + " |")
    return "\n".join(lines)


def _join(pairs: list[tuple[str, str]], named: bool) -> str:
    shown = [(h, c) for h, c in pairs if c]
    if not named:
        return shown[0][1] if shown else ""
    return "; ".join(f"{h}: {c}" for h, c in shown)
