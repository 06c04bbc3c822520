#!/usr/bin/env bash
# The dashboard in a real browser: Debian's headless Chromium (/usr/bin/chromium, installed
# with `apt-get install chromium`; Playwright never downloads one) driven by Playwright
# against a real `remit serve`, and the governance report printed to PDF by the same engine
# (turned back into images with pypdfium2). Not part of the default run. Screenshots go to docs/screenshots/.
# Installs chromium with apt-get when it is missing (as root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "remit: Debian's chromium is missing: installing it with apt-get" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q chromium || { $sudo apt-get update -q && $sudo apt-get install -y -q chromium; }
fi
exec .venv/bin/pytest -m browser tests/dashboard tests/report "$@"
