"""What the bundle keeps of Qt, used by packaging/plait.spec after each Analysis.

PyInstaller's Qt hooks collect every plugin of each kind a module may use (all image
formats, every platform, the GTK theme with GTK itself, TLS back ends...), and with
them every shared library those plugins link to. Plait needs far less: a widgets
window on X11, Wayland, Windows or macOS (and offscreen for --smoke-test), input
methods, SVG icons and the desktop portal. So the spec keeps the plugins below, drops
Qt's translations (Plait is not translated), and then keeps only the shared libraries
that something kept still links to: the Python extensions, the kept plugins and the
interpreter are the roots.
"""

from __future__ import annotations

import os
from pathlib import PurePath

ALL = None
PLUGINS: dict[str, set[str] | None] = {  # plugin folder -> plugin names kept (ALL: every one)
    "platforms": {"qxcb", "qwayland", "qoffscreen", "qwindows", "qcocoa"},
    "platformthemes": {"qxdgdesktopportal"},  # dark mode and file dialogs via the portal
    "platforminputcontexts": {"composeplatforminputcontextplugin",
                              "ibusplatforminputcontextplugin"},  # dead keys, input methods
    "imageformats": {"qsvg"},
    "iconengines": {"qsvgicon"},  # the desktop theme's SVG icons for menu actions
    "styles": ALL,  # Windows' and macOS' native looks
    "wayland-shell-integration": {"xdg-shell"},
    "wayland-decoration-client": {"bradient", "adwaita"},  # title bars where the compositor draws none
}
ROOT_NAMES = ("libpython", "python3")  # the interpreter: a root even though it is a library


def plugin_of(dest: str) -> tuple[str, str] | None:
    """(folder, name) for a Qt plugin's destination path in the bundle, else None."""
    parts = PurePath(dest).parts
    if "plugins" not in parts or "PySide6" not in parts:
        return None
    i = parts.index("plugins")
    if len(parts) != i + 3:
        return None
    name = parts[i + 2].split(".")[0]
    return parts[i + 1], name.removeprefix("lib")


def keep_plugin(dest: str) -> bool:
    plugin = plugin_of(dest)
    if plugin is None:
        return True
    folder, name = plugin
    if folder not in PLUGINS:
        return False
    wanted = PLUGINS[folder]
    return wanted is ALL or name in wanted


def keep_data(dest: str) -> bool:
    parts = PurePath(dest).parts
    return not ("PySide6" in parts and "translations" in parts)


def prune(analysis, name: str, workpath: str | None = None) -> None:
    """Trim an Analysis in place: plugins, translations, then unreachable libraries. The
    list of what was dropped goes to WORKPATH/trim-NAME.txt."""
    from PyInstaller.depend.bindepend import get_imports

    before = {dest for dest, _src, _kind in analysis.binaries}
    binaries = [e for e in analysis.binaries if keep_plugin(e[0])]
    analysis.datas = [e for e in analysis.datas if keep_data(e[0])]

    by_source = {}
    for entry in binaries:
        if entry[2] != "SYMLINK":
            by_source[os.path.realpath(entry[1])] = entry
    roots = [e for e in binaries if e[2] == "EXTENSION" or plugin_of(e[0]) is not None
             or PurePath(e[0]).name.startswith(ROOT_NAMES)]
    reached = {e[0] for e in roots}
    queue = [e[1] for e in roots if e[2] != "SYMLINK"]
    while queue:
        for _name, path in get_imports(queue.pop()):
            entry = by_source.get(os.path.realpath(path)) if path else None
            if entry is not None and entry[0] not in reached:
                reached.add(entry[0])
                queue.append(entry[1])
    kept_names = {PurePath(d).name for d in reached}
    analysis.binaries = [
        e for e in binaries
        if e[0] in reached or (e[2] == "SYMLINK" and PurePath(e[0]).name in kept_names)
    ]
    dropped = sorted(before - {e[0] for e in analysis.binaries})
    plugins = [d for d in dropped if plugin_of(d) is not None]
    print(f"trim ({name}): dropped {len(plugins)} Qt plugins and {len(dropped) - len(plugins)} "
          f"libraries nothing kept links to; kept {len(analysis.binaries)} binaries")
    if workpath:
        with open(os.path.join(workpath, f"trim-{name}.txt"), "w", encoding="utf-8") as out:
            out.writelines(f"{dest}\n" for dest in dropped)
