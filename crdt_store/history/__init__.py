"""Version history of notes: editing sessions, any past version, and restore (this
module's sessions.py, versions.py, restore.py, diff.py); authorship, and what changed
since this user last looked (authorship.py, last_seen.py).

**Retention rule** (the store keeps what makes every session's end reconstructible):
- Documents are kept without garbage collection (`skip_gc`), so deleted text stays in
  the CRDT state, and a state holds every earlier version of itself.
- The update log keeps every row (bytes, author, device, wall time) until compaction
  folds it into the document's checkpoint (after 1,000 rows and 2 s idle, or on
  `Vault.compact()`). Folding keeps one *version mark* per editing session: its
  author, time range, row count and a Snapshot (state vector and delete set) of the
  document at the session's end (crdt_store/compaction.py).
- A session is one author's (one device's) run of edits, ended by `SESSION_GAP` (300
  s) of quiet or by another author's edit; a session may span compactions. One
  definition, `compaction.SessionReplay`, groups folded and unfolded rows alike, so
  a note's sessions and their ids do not change when it is compacted.
- So the text at the end of every session is kept forever, including text deleted
  later. Inside a session, versions are kept only until the session is folded.
- Cost, on the `automerge-paper` note (259,778 keystrokes, 104,852 characters, typed
  in 140 sessions; README, Performance): the checkpoint, deleted text included, is
  379 KB, 1.25x its garbage-collected state (304 KB). Each mark's Snapshot carries
  the whole delete set of its time (up to 10 KB there), so the marks add 729 KB,
  5.3 KB a session: 3.65x in all. (Delta-encoding consecutive marks would save most
  of that; not done.)

**Sessions** (`Session`, sessions.py): a stable id (the log position just after the
previous session ended), authors, start and end times, rows, and code points added
and removed (by diffing the versions at either end; cached). A collaborator's merged
edit is a session of its own, attributed to the author who signed it.

**Versions** (versions.py): the text at the end of any session, or at any moment
(`version_at`: the newest session end at or before it), rebuilt from the checkpoint
and the session's Snapshot in a few milliseconds (no replay).

**Restore** (restore.py): a new edit from the current text to a version, whole or
only a region of it, previewed first (`plan_restore`). **Diff** (diff.py): a
word-level diff for showing changes.

**Threading.** `read_stored_history` runs on the vault's owner thread (SQLite point
reads); a `NoteHistory` made from what it read does all the decoding and may be used
from any thread (the GUI's worker). The vault's `note_history()` hands one out.
"""

from .diff import Segment, word_diff
from .restore import RestorePreview, plan_restore
from .sessions import HistoryError, Session, StoredHistory, parse_when, read_stored_history
from .versions import NoteHistory

__all__ = ["HistoryError", "NoteHistory", "RestorePreview", "Segment", "Session",
           "StoredHistory", "parse_when", "plan_restore", "read_stored_history",
           "word_diff"]
