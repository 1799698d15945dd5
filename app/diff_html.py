"""Word-level diffs drawn as HTML, for the history panel and the restore preview."""

from __future__ import annotations

import html


def diff_html(segments) -> str:
    """Word-level diff segments as HTML: insertions on green, deletions struck on red."""
    out = []
    for kind, text in segments:
        piece = html.escape(text).replace("\n", "<br>")
        if kind == "insert":
            out.append(f"<span style='background-color:#d1f5d3'>{piece}</span>")
        elif kind == "delete":
            out.append(f"<span style='background-color:#ffd7d5;"
                       f"text-decoration:line-through'>{piece}</span>")
        else:
            out.append(piece)
    return "<div style='white-space:pre-wrap'>" + "".join(out) + "</div>"
