#!/bin/sh
# What `make bundle` wants from Debian on a Linux build machine (idempotent):
# - libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1: Qt's xcb platform needs them and
#   many desktops lack the first; PyInstaller bundles them when they are here;
# - xvfb: packaging/bundle/check.py opens the bundle's window on a real X server.
# Installs with apt-get as root, or through `sudo -n`; otherwise says what is missing
# and exits 2 (the bundle still builds, without them).
set -eu

PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 xvfb"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
if [ -z "$missing" ]; then
    echo "bundle build deps: already installed"
    exit 0
fi

sh "$(dirname "$0")/../apt_install.sh" "bundle build deps" $missing  # a list of package names
echo "bundle build deps: installed$missing"
