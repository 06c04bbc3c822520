"""`import remit` and the SDK load only what an agent needs: none of the service's,
the PostgreSQL store's or the local cloud's dependencies, though this environment has them
all (so importing one would show). The install without extras is checked for real by
`scripts/check-sdk-install.sh`."""

from __future__ import annotations

import subprocess
import sys

SERVER_ONLY = ("fastapi", "uvicorn", "starlette", "psycopg", "moto", "pydantic", "yaml", "typer")


def test_the_sdk_imports_none_of_the_extras() -> None:
    code = (
        "import sys, remit\n"
        "remit.Client, remit.AsyncClient, remit.instrument, remit.Denied\n"
        f"print(sorted(m for m in {SERVER_ONLY!r} if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert r.stdout.strip() == "[]"
