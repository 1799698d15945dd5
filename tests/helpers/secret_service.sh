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

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "secret service: need root or password-less sudo to install gnome-keyring and dbus" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "secret service: no apt-get here; install gnome-keyring and dbus by hand" >&2
    exit 2
fi

install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends gnome-keyring dbus
}
if ! install; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    install
fi
command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null
echo "secret service: installed"
