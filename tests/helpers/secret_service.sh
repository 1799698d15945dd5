#!/bin/sh
# Make a Secret Service available for tests/test_keys_secret_service.py: Debian's
# gnome-keyring (the daemon) and dbus (dbus-run-session). Idempotent: when both are
# there it does nothing. Installs with apt-get as root, or through `sudo -n`.
# Waits for the dpkg lock (others may be installing), and refreshes the package
# lists only when the first attempt fails.
set -eu

if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-run-session >/dev/null 2>&1; then
    echo "secret service: already installed"
    exit 0
fi

sh "$(dirname "$0")/../../packaging/apt_install.sh" "secret service" gnome-keyring dbus
command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null
echo "secret service: installed"
