#!/bin/sh
# Add Plait to this user's application menu, with its icons, as the handler of plait://
# invite links (XDG folders under ~/.local/share and ~/.config; no root needed).
#
#   packaging/linux/install-desktop.sh [PLAIT]
#
# PLAIT is the `plait` executable to register. Without it: the `plait` beside this
# script (the unpacked bundle), else the one on PATH. The work is done by
# `plait --install-desktop` (app/desktop_integration.py), which lists what it wrote.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then
    plait=$1
elif [ -x "$here/plait" ]; then
    plait=$here/plait
elif command -v plait >/dev/null 2>&1; then
    plait=$(command -v plait)
else
    echo "install-desktop: no plait found; give its path: $0 PATH/TO/plait" >&2
    exit 1
fi
case $plait in /*) ;; *) plait=$(pwd)/$plait ;; esac
exec "$plait" --install-desktop --desktop-exec "$plait"
