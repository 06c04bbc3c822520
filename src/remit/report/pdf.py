"""HTML to PDF with a real engine: headless Chromium's --print-to-pdf (Debian's
/usr/bin/chromium, or $REMIT_CHROMIUM). No engine, no PDF: the caller is told so."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from remit.errors import Unavailable

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> Path:
    """The Chromium executable, or Unavailable naming what was looked for."""
    given = os.environ.get("REMIT_CHROMIUM")
    if given:
        return Path(given)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise Unavailable(
        "PDF needs Chromium (apt-get install chromium, or set REMIT_CHROMIUM); "
        "use --format html instead"
    )


def html_to_pdf(html: str, timeout: float = 120) -> bytes:
    """The PDF Chromium prints of `html` (a self-contained page)."""
    engine = chromium()
    with tempfile.TemporaryDirectory(prefix="remit-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [
            str(engine), "--headless", "--no-sandbox", "--disable-gpu",
            "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}", page.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"Chromium could not print the PDF: {exc}") from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace")[-500:]
            raise Unavailable(f"Chromium printed no PDF (exit {done.returncode}): {tail}")
        return out.read_bytes()
