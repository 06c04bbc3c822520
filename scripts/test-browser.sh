#!/usr/bin/env bash
# The dashboard in a real browser: Debian's headless Chromium (/usr/bin/chromium, installed
# with `apt-get install chromium`; Playwright never downloads one) driven by Playwright
# against a real `remit serve`, and the governance report printed to PDF by the same engine
# (turned back into images with pypdfium2). Not part of the default run. Screenshots go to docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/pytest -m browser tests/dashboard tests/report "$@"
