#!/bin/sh
# Install Debian packages for a build or test step: `apt_install.sh LABEL PACKAGE...`.
# Uses apt-get as root, or through `sudo -n`; waits for the dpkg lock (others may be
# installing) and refreshes the package lists only when the first attempt fails.
# Exits 2, saying what to install, when it cannot install at all.
set -eu
label=$1
shift

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "$label: need root or password-less sudo to install: $*" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$label: no apt-get here; install by hand: $*" >&2
    exit 2
fi

install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends "$@"
}
if ! install "$@"; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    install "$@"
fi
