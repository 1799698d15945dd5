"""Linux desktop integration for the current user, in the XDG folders (no root needed):

    $XDG_DATA_HOME/applications/app.plait.Plait.desktop      the menu entry
    $XDG_DATA_HOME/icons/hicolor/NxN/apps/app.plait.Plait.png  the icon, 16 to 512 px
    $XDG_DATA_HOME/icons/hicolor/scalable/apps/app.plait.Plait.svg
    $XDG_DATA_HOME/metainfo/app.plait.Plait.metainfo.xml     for software centres
    $XDG_CONFIG_HOME/mimeapps.list                           plait:// opens Plait

($XDG_DATA_HOME is ~/.local/share and $XDG_CONFIG_HOME ~/.config unless set.) The
entry's Exec= names the `plait` that installs it, by absolute path, so it works for a
bundle unpacked anywhere and for a virtualenv that is not on PATH. Uninstalling removes
exactly these files and Plait's lines in mimeapps.list, and leaves everything else.

`plait --install-desktop` / `--uninstall-desktop` run this; packaging/linux/*.sh wrap them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import APP_ID
from .assets import (
    APP_ICON_SIZES,
    DESKTOP_ENTRY,
    METAINFO,
    app_icon_png,
    app_icon_svg,
    resource,
)

SCHEME_MIME = "x-scheme-handler/plait"
SECTIONS = ("Default Applications", "Added Associations")


@dataclass
class Report:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def installed_files(data: Path | None = None) -> list[Path]:
    data = data or data_home()
    icons = data / "icons" / "hicolor"
    return [
        data / "applications" / DESKTOP_ENTRY,
        data / "metainfo" / METAINFO,
        icons / "scalable" / "apps" / f"{APP_ID}.svg",
        *(icons / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in APP_ICON_SIZES),
    ]


def plait_executable() -> Path:
    """The `plait` being run: the bundle's executable, or the console script."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).absolute()
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name.startswith("plait") and argv0.suffix != ".py" \
            and argv0.is_file():
        return argv0.absolute()
    found = shutil.which("plait")
    if found:
        return Path(found).absolute()
    raise FileNotFoundError("cannot tell which `plait` to register: give it with "
                            "--desktop-exec PATH/TO/plait")


def exec_quote(path: Path) -> str:
    """A path as one argument of a desktop entry's Exec= key (quoted when needed)."""
    text = str(path)
    if not any(c in text for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return text
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in text).replace("%", "%%")
    return '"' + escaped.replace("\\", "\\\\") + '"'  # string-level escape comes first


def desktop_entry(executable: Path) -> str:
    """The packaged entry with Exec= and TryExec= naming `executable`."""
    lines = []
    for line in resource(DESKTOP_ENTRY).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_quote(executable)} %u"
        elif line.startswith("TryExec="):
            line = f"TryExec={executable}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(executable: Path | None = None) -> Report:
    executable = executable or plait_executable()
    report = Report()
    data = data_home()
    targets = installed_files(data)
    entry, metainfo, svg, *pngs = targets
    _write(entry, desktop_entry(executable).encode(), report)
    _write(metainfo, resource(METAINFO).read_bytes(), report)
    _write(svg, app_icon_svg().read_bytes(), report)
    for size, path in zip(APP_ICON_SIZES, pngs):
        _write(path, app_icon_png(size).read_bytes(), report)
    mimeapps = config_home() / "mimeapps.list"
    set_scheme_handler(mimeapps, DESKTOP_ENTRY)
    report.written.append(mimeapps)
    _refresh(data, report)
    return report


def uninstall() -> Report:
    report = Report()
    data = data_home()
    for path in installed_files(data):
        if path.exists():
            path.unlink()
            report.removed.append(path)
    mimeapps = config_home() / "mimeapps.list"
    if mimeapps.exists() and remove_scheme_handler(mimeapps, DESKTOP_ENTRY):
        report.removed.append(mimeapps)
    _refresh(data, report)
    return report


def set_scheme_handler(mimeapps: Path, desktop_id: str) -> None:
    """Make `desktop_id` the default (and an added) handler of plait:// links."""
    text = mimeapps.read_text(encoding="utf-8") if mimeapps.exists() else ""
    for section in SECTIONS:
        text = _set_key(text, section, SCHEME_MIME, f"{desktop_id};")
    mimeapps.parent.mkdir(parents=True, exist_ok=True)
    mimeapps.write_text(text, encoding="utf-8")


def remove_scheme_handler(mimeapps: Path, desktop_id: str) -> bool:
    """Take `desktop_id` out of plait:// handling; other handlers stay, and a section
    left empty by it goes too. True if the file changed."""
    old = mimeapps.read_text(encoding="utf-8")
    sections: list[list[str]] = [[]]  # lines before the first header, then one per section
    emptied: set[int] = set()
    for line in old.splitlines():
        if line.lstrip().startswith("["):
            sections.append([line])
            continue
        key, sep, value = line.partition("=")
        if sep and key.strip() == SCHEME_MIME:
            kept = [v for v in value.strip().split(";") if v and v != desktop_id]
            if not kept:
                emptied.add(len(sections) - 1)
                continue
            line = f"{SCHEME_MIME}={';'.join(kept)};"
        sections[-1].append(line)
    lines: list[str] = []
    for i, section in enumerate(sections):
        if i in emptied and i > 0 and not any(s.strip() for s in section[1:]):
            continue
        lines += section
    while lines and not lines[-1].strip():
        lines.pop()
    new = "\n".join(lines) + ("\n" if lines else "")
    if new != old:
        mimeapps.write_text(new, encoding="utf-8")
        return True
    return False


def _set_key(text: str, section: str, key: str, value: str) -> str:
    """`key=value` in `[section]` of an ini-style file, changing nothing else."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", f"{key}={value}"]
        return "\n".join(lines) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
               len(lines))
    for i in range(start + 1, end):
        if lines[i].partition("=")[0].strip() == key:
            lines[i] = f"{key}={value}"
            break
    else:
        insert = end
        while insert > start + 1 and not lines[insert - 1].strip():
            insert -= 1  # before the blank lines that separate sections
        lines.insert(insert, f"{key}={value}")
    return "\n".join(lines) + "\n"


def _write(path: Path, data: bytes, report: Report) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    report.written.append(path)


def _refresh(data: Path, report: Report) -> None:
    """Tell the desktop: the MIME cache of the entries, and a touched icon theme folder
    (GTK and Qt re-read a hicolor folder whose time changed)."""
    applications = data / "applications"
    tool = shutil.which("update-desktop-database")
    if tool and applications.is_dir():
        done = subprocess.run([tool, "-q", str(applications)], capture_output=True, text=True)
        if done.returncode != 0:
            report.notes.append(f"update-desktop-database failed: {done.stderr.strip()}")
    elif not tool:
        report.notes.append("update-desktop-database is not installed; the desktop finds the "
                            "entry at its next scan")
    hicolor = data / "icons" / "hicolor"
    if hicolor.is_dir():
        os.utime(hicolor)


def main(action: str, executable: Path | None = None) -> int:
    try:
        if action == "install":
            report = install(executable.absolute() if executable else None)
        else:
            report = uninstall()
    except (OSError, FileNotFoundError) as exc:
        print(f"plait: error: {exc}", file=sys.stderr)
        return 1
    verb = "installed" if action == "install" else "removed"
    paths = report.written if action == "install" else report.removed
    print(f"plait: desktop integration {verb} ({len(paths)} files)")
    for path in paths:
        print(f"  {path}")
    for note in report.notes:
        print(f"plait: note: {note}", file=sys.stderr)
    return 0
