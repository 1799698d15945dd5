"""MarkdownHighlighter on a real QPlainTextEdit (offscreen): ranges, block state, palettes."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from app.markdown_highlighter import TASK_RE, MarkdownHighlighter, contrast
from crdt_store.markdown_text import derive_tags
from crdt_store.unicode_offsets import cp_to_utf16, utf16_len

from .conftest import ARTIFACTS

PAPER = Path(__file__).parent / "benchmarks" / "data" / "automerge-paper.json.gz"


SAMPLE = """\
# Plait notes 😀 **today**
## Weekly plan #work/plait

Some *emphasis*, **strong text**, ~~struck~~ and `inline code`.
A [link to the docs](https://example.com/docs) and a bare URL https://plait.app/notes.
Tags: #ideas (#project/alpha) but not #123, a#b or `#code`.

> A quote with *style* and a #tag
- bullet item
* another item
1. numbered item
- [ ] open task with **bold**
- [x] finished task, see [spec](https://x.y)

```python
# not a heading inside the fence
def double(x):
    return x * 2  # *not em* #nottag
```

### Heading three
~~~
tilde fence with **no bold**
~~~
Back to *normal* text.
"""


def dark_palette() -> QPalette:
    """Dark Base/Window, light Text/WindowText; Link and Highlight keep their defaults."""
    palette = QPalette()
    role = QPalette.ColorRole
    for r, name in ((role.Window, "#2b2d30"), (role.Base, "#1e1f22"), (role.AlternateBase, "#26282b"),
                    (role.Text, "#dfe1e5"), (role.WindowText, "#dfe1e5"), (role.ButtonText, "#dfe1e5"),
                    (role.Button, "#2b2d30")):  # fmt: skip
        palette.setColor(r, QColor(name))
    return palette


@pytest.fixture
def make_editor(qtbot):
    def make(text: str, palette: QPalette | None = None) -> tuple[QPlainTextEdit, MarkdownHighlighter]:
        edit = QPlainTextEdit()
        qtbot.addWidget(edit)
        if palette is not None:
            edit.setPalette(palette)
        highlighter = MarkdownHighlighter(edit.document(), edit.palette())
        edit.setPlainText(text)
        return edit, highlighter

    return make


def unit_formats(edit: QPlainTextEdit, line: int) -> list[QTextCharFormat]:
    """The highlighter's format of every UTF-16 unit of one line (default format if none)."""
    block = edit.document().findBlockByNumber(line)
    out = [QTextCharFormat()] * (block.length() - 1)
    ranges = block.layout().formats()
    for r in ranges:
        fmt = QTextCharFormat(r.format)  # a copy: r.format dies with the range
        out[r.start : r.start + r.length] = [fmt] * r.length
    return out


def where(edit: QPlainTextEdit, line: int, test) -> set[int]:
    return {i for i, fmt in enumerate(unit_formats(edit, line)) if test(fmt)}


def units(line: str, part: str) -> set[int]:
    """The UTF-16 positions of the first ``part`` in ``line``."""
    start = cp_to_utf16(line, line.index(part))
    return set(range(start, start + utf16_len(part)))


def is_mono(fmt: QTextCharFormat) -> bool:
    return fmt.fontFixedPitch() and bool(fmt.fontFamilies())


def is_bold(fmt: QTextCharFormat) -> bool:
    return fmt.fontWeight() >= 700


def fg(fmt: QTextCharFormat) -> QColor | None:
    return fmt.foreground().color() if fmt.hasProperty(QTextCharFormat.Property.ForegroundBrush) else None


def test_heading_line_is_bold_and_coloured(make_editor) -> None:
    edit, _ = make_editor("# Title\nplain\n#### Four")
    assert where(edit, 0, is_bold) == set(range(7))
    assert where(edit, 2, is_bold) == set(range(9))
    assert where(edit, 1, is_bold) == set()
    assert fg(unit_formats(edit, 0)[3]) is not None
    assert all(fmt.fontPointSize() == 0 for fmt in unit_formats(edit, 0))  # size untouched


def test_emphasis_strong_strike_cover_exactly_their_ranges(make_editor) -> None:
    line = "a *em* b **strong** c ~~gone~~ d snake_case_name _under_"
    edit, _ = make_editor(line)
    assert where(edit, 0, QTextCharFormat.fontItalic) == units(line, "*em*") | units(line, "_under_")
    assert where(edit, 0, is_bold) == units(line, "**strong**")
    assert where(edit, 0, QTextCharFormat.fontStrikeOut) == units(line, "~~gone~~")
    line = "\\*not em\\* ***both*** *a **b** c*"
    edit, _ = make_editor(line)
    assert where(edit, 0, QTextCharFormat.fontItalic) == units(line, "*both*") | units(line, "*a **b** c*")
    assert where(edit, 0, is_bold) == units(line, "***both***") | units(line, "**b**")


def test_inline_code_is_monospace_and_hides_other_markup(make_editor) -> None:
    line = "run `make *all* #x` now"
    edit, _ = make_editor(line)
    assert where(edit, 0, is_mono) == units(line, "`make *all* #x`")
    assert where(edit, 0, QTextCharFormat.fontItalic) == set()
    assert all(fmt.background().style() != 0 for fmt in unit_formats(edit, 0)[4:19])


def test_fenced_block_is_monospace_with_no_other_markup(make_editor) -> None:
    text = "before\n```\n# looks like a heading\n*not em* #nottag\n```\nafter *em*"
    edit, _ = make_editor(text)
    lines = text.split("\n")
    for n in (1, 2, 3, 4):
        assert where(edit, n, is_mono) == set(range(len(lines[n]))), lines[n]
        assert where(edit, n, lambda f: is_bold(f) or f.fontItalic()) == set(), lines[n]
    assert where(edit, 0, is_mono) == set()
    assert where(edit, 5, is_mono) == set()
    assert where(edit, 5, QTextCharFormat.fontItalic) == units(lines[5], "*em*")


def test_fences_need_a_matching_close(make_editor) -> None:
    text = "~~~~\n```\n~~~\nstill code\n~~~~~\nout"
    edit, _ = make_editor(text)
    assert [bool(where(edit, n, is_mono)) for n in range(6)] == [True] * 5 + [False]
    edit2, _ = make_editor("```js `x`\nnot code: a backtick in the info string")
    assert where(edit2, 1, is_mono) == set()


def test_removing_the_opening_fence_unhighlights_the_following_lines(make_editor) -> None:
    edit, _ = make_editor("```\n# heading inside\ncode line\n```\n")
    assert where(edit, 1, is_mono) and where(edit, 2, is_mono)
    cursor = QTextCursor(edit.document())
    cursor.movePosition(QTextCursor.MoveOperation.Down, QTextCursor.MoveMode.KeepAnchor)
    cursor.removeSelectedText()  # deletes "```\n"
    assert edit.toPlainText() == "# heading inside\ncode line\n```\n"
    assert where(edit, 0, is_mono) == set()
    assert where(edit, 0, is_bold) == set(range(16))  # now a real heading
    assert where(edit, 1, is_mono) == set()
    assert where(edit, 2, is_mono) == {0, 1, 2}  # the old closing fence now opens a block
    cursor.insertText("```\n")  # put it back
    assert where(edit, 1, is_mono) == set(range(16))


def test_an_edit_rehighlights_only_the_blocks_it_can_affect(make_editor) -> None:
    class Counting(MarkdownHighlighter):
        calls = 0

        def highlightBlock(self, text: str) -> None:
            Counting.calls += 1
            super().highlightBlock(text)

    edit = QPlainTextEdit()
    Counting(edit.document(), edit.palette())
    edit.setPlainText("\n".join(f"line {i} with *em*" for i in range(500)))
    block = edit.document().findBlockByNumber(100)
    Counting.calls = 0
    QTextCursor(block).insertText("more ")
    assert Counting.calls == 1
    Counting.calls = 0
    QTextCursor(block).insertText("```\n")  # opens a fence: everything below changes state
    assert Counting.calls == 401
    edit.deleteLater()


def test_tags_follow_derive_tags(make_editor) -> None:
    lines = ["#tag at start", "x #123 #2024-01-05 a#b", "## heading", "# heading #inhead",
             "(#paren) [x](#anchor) http://x.com/#frag", "#trailing/ and #a/b #straße #é",
             "`#code` #ok-1_2 #/slash"]  # fmt: skip
    edit, _ = make_editor("\n".join(lines))
    for n, line in enumerate(lines):
        coloured = where(edit, n, lambda f: f.hasProperty(QTextCharFormat.Property.BackgroundBrush)
                         and not is_mono(f))  # fmt: skip
        expected = set().union(*(units(line, "#" + tag) for tag in derive_tags(line)))
        assert coloured == expected, line
    assert not derive_tags("x #123 a#b\n## heading")


def test_emoji_before_bold_gives_utf16_ranges(make_editor) -> None:
    line = "😀 é 😀 **bold** *it* 👍🏽x #tag"
    heading = "# 😀 **bold**"
    edit, _ = make_editor(f"{line}\n{heading}")
    assert where(edit, 0, is_bold) == units(line, "**bold**") == set(range(8, 16))
    assert where(edit, 0, QTextCharFormat.fontItalic) == units(line, "*it*")
    assert where(edit, 1, is_bold) == set(range(len(heading) + 1))  # the whole heading...
    assert where(edit, 1, lambda f: f.fontWeight() > 800) == units(heading, "**bold**")  # ...heavier


def test_tasks_lists_quotes_and_links(make_editor) -> None:
    lines = ["- [ ] open", "- [x] done [l](https://a.b)", "> quoted", "1. item", "see https://x.org/a."]
    edit, _ = make_editor("\n".join(lines))
    box = fg(unit_formats(edit, 0)[2])
    assert box is not None and fg(unit_formats(edit, 0)[0]) == box  # bullet and box coloured
    assert where(edit, 0, QTextCharFormat.fontStrikeOut) == set()
    assert where(edit, 1, QTextCharFormat.fontStrikeOut) == set(range(6, len(lines[1])))
    assert fg(unit_formats(edit, 2)[0]) is not None and fg(unit_formats(edit, 3)[0]) is not None
    assert where(edit, 4, QTextCharFormat.fontUnderline) == units(lines[4], "https://x.org/a")
    assert where(edit, 1, QTextCharFormat.fontUnderline) == units(lines[1], "https://a.b")
    match = TASK_RE.match("  * [X] ship it")
    assert match and match.groups() == ("  ", "*", "X")
    assert not TASK_RE.match("-[ ] no") and not TASK_RE.match("- [y] no")


def test_dark_palette_gives_light_on_dark_colours(make_editor) -> None:
    light, _ = make_editor(SAMPLE)
    dark, highlighter = make_editor(SAMPLE, dark_palette())
    lines = SAMPLE.split("\n")
    for edit, is_dark in ((light, False), (dark, True)):
        base = edit.palette().color(QPalette.ColorRole.Base)
        for n, part in ((0, "Plait"), (4, "link to"), (5, "#ideas"), (8, "-"), (11, "[ ]")):
            colour = fg(unit_formats(edit, n)[cp_to_utf16(lines[n], lines[n].index(part))])
            assert colour is not None, part
            assert (colour.lightnessF() > base.lightnessF()) == is_dark, part
            assert contrast(colour, base) >= 4.5, part
    highlighter.set_palette(light.palette())  # recomputes and re-highlights
    assert fg(unit_formats(dark, 0)[2]) == fg(unit_formats(light, 0)[2])


@pytest.mark.parametrize("name, palette", [("light", None), ("dark", dark_palette())])
def test_screenshot(make_editor, qtbot, name: str, palette: QPalette | None) -> None:
    edit, _ = make_editor(SAMPLE, palette)
    edit.resize(700, 500)
    edit.show()
    qtbot.waitExposed(edit)
    ARTIFACTS.mkdir(exist_ok=True)
    assert edit.grab().save(str(ARTIFACTS / f"highlighter-{name}.png"))


def test_highlighting_a_100k_document_is_fast(make_editor) -> None:
    with gzip.open(PAPER, "rt", encoding="utf-8") as f:
        text = json.load(f)["endContent"]
    assert len(text) > 100_000
    _, highlighter = make_editor(text)
    start = time.perf_counter()
    highlighter.rehighlight()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"rehighlight took {elapsed:.3f}s"
