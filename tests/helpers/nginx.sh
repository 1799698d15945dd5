#!/bin/sh
# Print the path of an nginx binary for tests/test_relay_proxy.py: the installed one, or
# else Debian's nginx package unpacked into DIR (downloaded with apt-get, not
# installed: no service starts, no system file changes).
#
#   sh tests/helpers/nginx.sh DIR
set -eu
dir=$1
for candidate in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx "$dir/usr/sbin/nginx"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        echo "$candidate"
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "nginx: not installed, and no apt-get and dpkg-deb to fetch it" >&2
    exit 2
fi
mkdir -p "$dir"
cd "$dir"
if ! apt-get download nginx >/dev/null 2>&1; then  # stale or missing package lists
    if [ "$(id -u)" -eq 0 ]; then
        apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    else
        echo "nginx: apt-get download failed and the package lists cannot be refreshed" >&2
        exit 2
    fi
    apt-get download nginx >/dev/null 2>&1
fi
dpkg-deb -x nginx_*.deb .
echo "$dir/usr/sbin/nginx"
