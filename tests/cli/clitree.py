"""The `remit` command tree as Typer builds it: every command a user can run (group
callbacks that run on their own included, hidden aliases left out), with the Python
function behind it, so tests can check each command without a hand-kept list."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import typer
from typer.models import OptionInfo

from remit.cli.app import app


def commands() -> dict[str, Callable[..., Any]]:
    """'ledger prove' → its function, for every visible command of `remit`."""
    root = typer.main.get_command(app)
    return {" ".join(path): inspect.unwrap(cmd.callback) for path, cmd in _walk(root, [])}


def _walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    if hasattr(cmd, "list_commands"):  # a group
        if path and getattr(cmd, "invoke_without_command", False):
            yield path, cmd  # `remit drift`, `remit evidence`: the group runs on its own
        ctx = typer.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:  # `events` is an alias of `event`
                yield from _walk(sub, [*path, name])
    else:
        yield path, cmd


def option(func: Callable[..., Any], flag: str) -> tuple[Any, OptionInfo] | None:
    """The annotation (resolved) and OptionInfo of the parameter declared as `flag`."""
    for p in inspect.signature(func).parameters.values():
        if isinstance(p.default, OptionInfo) and flag in (p.default.param_decls or ()):
            ann = p.annotation
            if isinstance(ann, str):
                ann = eval(ann, func.__globals__)  # the module's own annotation
            return ann, p.default
    return None
