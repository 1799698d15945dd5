"""Markdown export and import: one folder per notebook, one `.md` file per note.

Export writes YAML front matter (id, tags, created, modified) above each body.
Import reads a folder of `.md` files (our exports, an Obsidian vault): subfolders
become notebooks, front matter is honoured, and importing the same folder again
updates the notes it created instead of duplicating them. Bad files are reported
and skipped; they never stop the import.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .markdown_text import (
    FrontMatterError,
    derive_tags,
    format_front_matter,
    safe_filename,
    split_front_matter,
    split_front_matter_leniently,
    unique_name,
)
from .model import new_id, plausible_time
from .vault import Vault

MARKDOWN_SUFFIXES = {".md", ".markdown"}
MAX_IMPORT_BYTES = 8 * 1024 * 1024
OUR_KEYS = ("id", "tags", "created", "modified")
TIME_KEYS = {"created": ("created", "date"), "modified": ("modified", "updated")}


@dataclass
class ExportReport:
    notes: int = 0
    notebooks: int = 0
    files: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # older exports of the same notes


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: set[str] = field(default_factory=set, repr=False)  # ids this import wrote


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


def parse_time(value: object) -> float | None:
    """Seconds since the epoch from an ISO 8601 string, a date, or a number; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return plausible_time(value)  # not 1e14, inf or nan: no date shows those
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# ---- export --------------------------------------------------------------------------


def export_vault(vault: Vault, dest: Path) -> ExportReport:
    """Write every live note under `dest`, one folder per notebook (names with '/' nest)."""
    report = ExportReport()
    dest.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_exports(dest)
    taken_dirs: dict[Path, set[str]] = {}
    for notebook in vault.notebooks():
        folder = dest
        for part in [p for p in notebook.name.split("/") if p.strip()] or ["Untitled notebook"]:
            folder = folder / safe_filename(part)
        folder = _unique_dir(folder, taken_dirs)
        folder.mkdir(parents=True, exist_ok=True)
        report.notebooks += 1
        taken: set[str] = set()
        for summary in vault.list_notes(notebook.notebook_id):
            body = vault.note_text(summary.note_id)
            extra, text = split_front_matter_leniently(body)
            meta: dict[str, object] = {
                "id": summary.note_id,
                "tags": list(derive_tags(text)),
                "created": iso(summary.created),
                "modified": iso(summary.modified),
            }
            meta.update({k: v for k, v in extra.items() if k not in meta})
            try:
                header = format_front_matter(meta)
            except ValueError:  # a key it cannot write ('"quoted": 1'): keep the body as is
                header, text = format_front_matter({k: meta[k] for k in OUR_KEYS}), body
            path = folder / unique_name(safe_filename(summary.title), taken)
            path.write_text(header + text, encoding="utf-8", newline="")
            report.files.append(path)
            report.notes += 1
    # A retitled or moved note leaves its earlier export behind; importing the folder
    # later would bring the old text back. Remove exactly those files.
    exported = {f.note_id for nb in vault.notebooks() for f in vault.list_notes(nb.notebook_id)}
    written = set(report.files)
    for path, note_id in earlier.items():
        if note_id in exported and path not in written:
            path.unlink(missing_ok=True)
            report.removed.append(path)
    return report


def _earlier_exports(dest: Path) -> dict[Path, str]:
    """Markdown files already under `dest` that name a note id in their front matter."""
    found: dict[Path, str] = {}
    for path in dest.rglob("*.md"):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            head = fh.read(4096)
        if not head.startswith("---"):
            continue
        end = head.find("\n---", 3)
        meta, _ = split_front_matter_leniently(head[: end + 4] + "\n" if end > 0 else "")
        if _valid_id(meta.get("id")):
            found[path] = str(meta["id"])
    return found


def _unique_dir(folder: Path, taken_dirs: dict[Path, set[str]]) -> Path:
    """Two notebooks with the same name get 'Name', 'Name (2)'."""
    taken = taken_dirs.setdefault(folder.parent, set())
    return folder.parent / unique_name(folder.name, taken, ext="")


# ---- import --------------------------------------------------------------------------


def import_folder(vault: Vault, source: Path) -> ImportReport:
    """Import every Markdown file below `source`; see the module docstring for the rules."""
    source = source.expanduser().resolve()
    if not source.is_dir():
        raise NotADirectoryError(f"{source} is not a folder.")
    report = ImportReport()
    for path in _walk(source):
        rel = path.relative_to(source).as_posix()
        if path.suffix.lower() not in MARKDOWN_SUFFIXES:
            report.skipped.append((rel, "not a Markdown file"))
            continue
        problem, text = _read_markdown(path)
        if problem:
            report.skipped.append((rel, problem))
            continue
        folder = path.parent.relative_to(source).as_posix()
        notebook = source.name if folder == "." else folder
        _import_one(vault, source, rel, path, text, notebook, report)
    vault.flush()
    return report


def _walk(root: Path) -> list[Path]:
    """Files below root in a stable order, skipping hidden entries and symlinks."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not name.startswith(".") and not path.is_symlink():
                found.append(path)
    return found


def _read_markdown(path: Path) -> tuple[str | None, str]:
    """(problem, text): the reason to skip a file, or its text."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file", ""
        size = info.st_size
        if size > MAX_IMPORT_BYTES:
            return f"too large ({size // (1024 * 1024)} MB; the limit is "\
                   f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB)", ""
        data = path.read_bytes()
    except OSError as exc:
        return f"could not be read: {exc.strerror or exc}", ""
    if b"\x00" in data:
        return "binary data, not Markdown", ""
    try:
        return None, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})", ""


def _import_one(
    vault: Vault, source: Path, rel: str, path: Path, text: str, notebook_name: str,
    report: ImportReport,
) -> None:
    try:
        meta, body = split_front_matter(text)
    except FrontMatterError as exc:
        report.warnings.append((rel, f"front matter not understood, kept as text: {exc}"))
        meta, body = {}, text
    written = text[: len(text) - len(body)]  # the front matter as it is in the file
    kept = {k: v for k, v in meta.items() if k not in OUR_KEYS and k not in ("date", "updated")}
    body = _with_missing_tags(body, meta.get("tags"))
    if kept:
        try:
            body = format_front_matter(kept) + body
        except ValueError:  # a key it cannot write ('"quoted": 1'): keep it as written
            body = written + body
    if meta.get("id") in report.notes:
        report.warnings.append((rel, "its id is also in an earlier file; imported as a new note"))
        meta = {k: v for k, v in meta.items() if k != "id"}
    note_id = _existing_note(vault, source, rel, meta.get("id"))
    if note_id in report.notes:
        note_id = None
    if note_id is not None:
        report.notes.add(note_id)
        if vault.note_text(note_id) == body:
            report.unchanged += 1
        else:
            vault.set_text(note_id, body)
            report.updated += 1
        _remember(vault, source, rel, note_id)
        return
    stat_time = path.stat().st_mtime
    created = _meta_time(meta, "created") or stat_time
    wanted_id = meta.get("id")
    note_id = vault.create_note(
        vault.notebook_named(notebook_name), body, created=created,
        note_id=wanted_id if _valid_id(wanted_id) else new_id(),
    )
    vault.set_modified(note_id, _meta_time(meta, "modified") or stat_time)
    _remember(vault, source, rel, note_id)
    report.notes.add(note_id)
    report.created += 1


def _meta_time(meta: dict[str, object], which: str) -> float | None:
    for key in TIME_KEYS[which]:
        found = parse_time(meta.get(key))
        if found is not None:
            return found
    return None


def _with_missing_tags(body: str, tags: object) -> str:
    """Front-matter tags the body does not mention are added as a last line of #tags."""
    if isinstance(tags, str):
        tags = [t for t in tags.replace(",", " ").split() if t]
    if not isinstance(tags, list):
        return body
    present = {t.casefold() for t in derive_tags(body)}
    missing = []
    for tag in tags:
        if tag is None or isinstance(tag, bool):
            continue
        name = str(tag).lstrip("#").strip().replace(" ", "-")
        if name and name.casefold() not in present:
            missing.append("#" + name)
            present.add(name.casefold())
    if not missing:
        return body
    return body.rstrip("\n") + ("\n\n" if body.strip() else "") + " ".join(missing) + "\n"


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(
        c in "0123456789abcdef" for c in value
    )


def _existing_note(vault: Vault, source: Path, rel: str, meta_id: object) -> str | None:
    """The note this file was imported or exported as before, if it still exists."""
    if _valid_id(meta_id) and vault.has_note(meta_id):
        return meta_id
    found = vault.imported_note(f"{source}::{rel}")
    return found if found is not None and vault.has_note(found) else None


def _remember(vault: Vault, source: Path, rel: str, note_id: str) -> None:
    vault.remember_import(f"{source}::{rel}", note_id)
