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

sh "$(dirname "$0")/../../packaging/apt_install.sh" "desktop tools" desktop-file-utils appstream
command -v desktop-file-validate >/dev/null && command -v appstreamcli >/dev/null
echo "desktop tools: installed"
