#!/bin/sh
# Remove what install-desktop.sh added: the menu entry, the icons, the AppStream file and
# Plait's plait:// line in ~/.config/mimeapps.list. Notes and vaults are not touched.
#
#   packaging/linux/uninstall-desktop.sh [PLAIT]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then
    plait=$1
elif [ -x "$here/plait" ]; then
    plait=$here/plait
elif command -v plait >/dev/null 2>&1; then
    plait=$(command -v plait)
else
    echo "uninstall-desktop: no plait found; give its path: $0 PATH/TO/plait" >&2
    exit 1
fi
exec "$plait" --uninstall-desktop
