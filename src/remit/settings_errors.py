"""Telling a person what is wrong with settings they wrote (a YAML file, a mapping):
one line per problem pydantic found, naming the setting by the path as it was written
(`notify.webhook[1].url`, `notify.smtp.port`).

It only words the errors; the models that find them live with what they configure
(`remit.notify.settings`, `remit.server.config`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError


def setting_path(loc: Sequence[int | str], data: object) -> str:
    """`loc` as the path a person wrote: keys joined by dots, list items as `[i]`.

    Where one item was written in place of a list (`webhook: {url: …}` rather than
    `webhook: [{url: …}]`), the model sees item 0 of a list; the path leaves the index
    out, because the file has none.
    """
    out = ""
    node: object = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list):
                out += f"[{part}]"
                node = node[part] if 0 <= part < len(node) else None
            continue
        out += f".{part}" if out else part
        node = node.get(part) if isinstance(node, Mapping) else None
    return out


def describe(exc: ValidationError, data: object) -> list[str]:
    """One `path: problem` line per error in `exc`, for the input `data` (just `problem`
    for a problem with `data` as a whole). An unknown key is called an unknown setting."""
    lines = []
    for err in exc.errors(include_url=False):
        where = setting_path(err["loc"], data)
        if err["type"] == "extra_forbidden":
            problem = "unknown setting"
        else:
            problem = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {problem}" if where else problem)
    return lines
