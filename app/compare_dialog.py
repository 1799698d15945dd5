"""Compare: a flagged region as each side had it, and as it was merged."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPlainTextEdit,
    QWidget,
)

from crdt_store.review.flags import ARRIVED, EARLIER, ReviewFlag

from .colors import author_color


class CompareDialog(QDialog):
    """Three read-only texts side by side: mine (or the first author's), theirs, merged."""

    def __init__(self, flag: ReviewFlag, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare the merged text")
        self.resize(720, 220)
        mine = flag.mine or EARLIER
        theirs = ARRIVED if mine == EARLIER else EARLIER
        grid = QGridLayout(self)
        self.texts: dict[str, QPlainTextEdit] = {}
        columns = [(mine, flag.side(mine).name), (theirs, flag.side(theirs).name),
                   ("merged", "Merged")]
        for column, (key, name) in enumerate(columns):
            if key == "merged":
                heading, text = "<b>Merged</b> (now in the note)", flag.merged
            else:
                side = flag.side(key)
                who = "You" if side.local else name or "Someone"
                if flag.own_devices:
                    who = f"{name}, another device" if not side.local else "This device"
                color = author_color(side.name).name()
                heading = f"<span style='color:{color}'>●</span> <b>{who}</b> had"
                text = flag.version(key)
            label = QLabel(heading)
            box = QPlainTextEdit()
            box.setReadOnly(True)
            if text is None:
                box.setPlaceholderText("Plait cannot tell how this side had the text.")
            else:
                box.setPlainText(text)
                if not text:
                    box.setPlaceholderText("(nothing: this side removed the text)")
            grid.addWidget(label, 0, column)
            grid.addWidget(box, 1, column)
            self.texts[key] = box
        before = flag.before.rsplit("\n", 1)[-1][-40:]  # the region's own line
        after = flag.after.split("\n", 1)[0][:40]
        around = f"…{html.escape(before)}<b>[here]</b>{html.escape(after)}…"
        context = QLabel(f"<span style='color:gray'>In the note: {around}</span>")
        context.setWordWrap(True)
        grid.addWidget(context, 2, 0, 1, 3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        grid.addWidget(buttons, 3, 0, 1, 3)
