#!/bin/sh
# Make the freedesktop validators available for tests/test_desktop_resources.py and
# tests/test_desktop_integration.py: Debian's desktop-file-utils (desktop-file-validate,
# update-desktop-database) and appstream (appstreamcli). Idempotent: when both are
# there it does nothing. Installs with apt-get as root, or through `sudo -n`.
# Waits for the dpkg lock (others may be installing), and refreshes the package
# lists only when the first attempt fails.
set -eu

if command -v desktop-file-validate >/dev/null 2>&1 && command -v appstreamcli >/dev/null 2>&1; then
    echo "desktop tools: already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "desktop tools: need root or password-less sudo to install desktop-file-utils and appstream" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "desktop tools: no apt-get here; install desktop-file-utils and appstream by hand" >&2
    exit 2
fi

install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends desktop-file-utils appstream
}
if ! install; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    install
fi
command -v desktop-file-validate >/dev/null && command -v appstreamcli >/dev/null
echo "desktop tools: installed"
