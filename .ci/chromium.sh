#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests of the forecast page and the API docs, and print its path.
# Idempotent: installs only when missing.
set -euo pipefail

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v chromium >/dev/null 2>&1; then
    as_root apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >&2
fi
command -v chromium
