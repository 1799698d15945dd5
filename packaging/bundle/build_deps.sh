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

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "bundle build deps: need root or password-less sudo to install:$missing" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bundle build deps: no apt-get here; install by hand:$missing" >&2
    exit 2
fi

install() {
    # shellcheck disable=SC2086  # a list of package names
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends $missing
}
if ! install; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    install
fi
echo "bundle build deps: installed$missing"
