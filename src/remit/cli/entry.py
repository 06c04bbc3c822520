"""The `remit` console script: runs the command line, or, when a dependency it needs
belongs to an extra that is not installed (the base install is only the SDK), says in one
line which extra to install and exits 3, instead of a traceback.

It imports only the standard library before the command line itself; the commands are
`remit.cli.app`'s.
"""

from __future__ import annotations

import sys
from typing import NoReturn

MISSING_EXTRA = 3
"""Exit status when an extra the command needs is not installed."""

# Top-level modules that come with an extra other than `server`; any other missing
# third-party module belongs to `server` (the base install has the SDK's own).
_EXTRA_OF = {"psycopg": "postgres", "psycopg_binary": "postgres", "moto": "demo"}


def extra_for(module: str) -> str:
    """The extra that provides the top-level `module`."""
    return _EXTRA_OF.get(module.split(".")[0], "server")


def install_hint(extra: str, why: str) -> str:
    """One line: `why`, and the pip command that installs `extra`."""
    return f"remit: {why}: install it with pip install 'remit[{extra}]'"


def _missing(exc: ModuleNotFoundError) -> NoReturn:
    name = exc.name or "?"
    if name.split(".")[0] == "remit":  # part of Remit itself: a broken install, not an extra
        raise exc
    extra = extra_for(name)
    why = f"this needs the {extra} extra, which is not installed (no module {name!r})"
    print(install_hint(extra, why), file=sys.stderr)
    raise SystemExit(MISSING_EXTRA)


def main() -> None:
    try:
        from remit.cli.app import main as run

        run()
    except ModuleNotFoundError as exc:
        _missing(exc)
