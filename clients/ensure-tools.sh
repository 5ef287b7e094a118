#!/usr/bin/env bash
# What `make e2e` needs besides the npm packages: Node >= 20 with npm, and Debian's chromium
# (puppeteer-core downloads no browser). Installs chromium with apt-get when it is missing and
# we are root; otherwise says what to install.
set -euo pipefail

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "make e2e needs Node.js >= 20 and npm on PATH"
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 20)); then
    echo "make e2e needs Node.js >= 20 (found $(node --version))"
    exit 1
fi

if [[ ! -x $CHROMIUM ]]; then
    echo "$CHROMIUM not found; trying to install Debian's chromium."
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Cannot install here (needs root and apt-get): apt-get install -y chromium"
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
echo "node $(node --version), npm $(npm --version), $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
