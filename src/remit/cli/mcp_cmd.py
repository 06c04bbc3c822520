"""`remit mcp proxy [OPTIONS] -- CMD ARGS…`: the MCP governance proxy on stdio. Settings
come from flags, then REMIT_URL / REMIT_API_KEY / REMIT_AGENT. Exit codes: 0 when the client
closed the session, 2 bad input (mapping, settings), 3 the upstream could not be started.
Nothing is printed to stdout but MCP messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import typer

mcp_app = typer.Typer(help="Govern MCP tool servers: every tools/call is a Remit decision.")

CMD_HELP = "The upstream MCP server command and its arguments, after --."


def _json_file_or_text(value: str | None, what: str) -> dict[str, Any]:
    if not value:
        return {}
    text = Path(value).read_text() if not value.lstrip().startswith("{") else value
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{what}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{what}: expected a JSON object")
    return data


@mcp_app.command(
    "proxy", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def proxy(
    ctx: typer.Context,
    mapping: str = typer.Option(
        "awslabs.iam-mcp-server",
        "--mapping",
        help="Tool → IAM action mapping: a YAML file or a shipped one (awslabs.iam-mcp-server).",
    ),
    remit_url: str | None = typer.Option(None, "--remit-url", help="Remit (or REMIT_URL)."),
    api_key: str | None = typer.Option(None, "--api-key", help="Agent key (or REMIT_API_KEY)."),
    agent: str | None = typer.Option(None, "--agent", help="Envelope agent (or REMIT_AGENT)."),
    account: str = typer.Option(
        ..., "--account", envvar="REMIT_ACCOUNT", help="AWS account id for {account}."
    ),
    region: str = typer.Option("us-east-1", "--region", envvar="AWS_REGION"),
    provenance: str | None = typer.Option(
        None, "--provenance", help="Provenance sent with every call: JSON or a JSON file."
    ),
    hold: float = typer.Option(120.0, "--hold", help="Seconds to hold a call for approval."),
    credentials: str = typer.Option(
        "grant", "--credentials", help="grant: per-call scoped credentials; none: upstream's own."
    ),
    call_timeout: float = typer.Option(60.0, "--call-timeout", help="Upstream call timeout."),
    env: list[str] = typer.Option([], "--env", help="KEY=VALUE for the upstream (repeatable)."),
    link: str = typer.Option(
        "{remit_url}/v1/decisions/{decision_id}", "--approval-link", help="Approval link template."
    ),
    timings: Path | None = typer.Option(
        None,
        "--timings",
        help="Append one JSON line per tools/call with the proxy's own time (decide, added, "
        "forward, report), in ms.",
    ),
) -> None:
    """Serve MCP on stdio in front of the upstream `CMD ARGS…`."""
    from remit.mcp.gate import MAX_HOLD, GateConfig
    from remit.mcp.mapping import MappingError, load_mapping
    from remit.mcp.proxy import ProxyOptions, serve
    from remit.mcp.upstream import UpstreamFailed
    from remit.sdk import AsyncClient
    from remit.sdk.settings import SettingsError, resolve

    command = list(ctx.args)
    if command and command[0] == "--":
        command = command[1:]
    err = typer.echo
    try:
        if not command:
            raise typer.BadParameter("no upstream command: remit mcp proxy [OPTIONS] -- CMD ARGS…")
        if credentials not in ("grant", "none"):
            raise typer.BadParameter("--credentials must be grant or none")
        if not 0 <= hold <= MAX_HOLD:
            raise typer.BadParameter(f"--hold must be between 0 and {MAX_HOLD:g} seconds")
        pairs = {}
        for item in env:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise typer.BadParameter(f"--env {item!r}: expected KEY=VALUE")
            pairs[key] = value
        settings = resolve(remit_url, api_key, agent, require_agent=True)
        tool_map = load_mapping(mapping)
        gate = GateConfig(
            mapping=tool_map,
            context={"account": account, "region": region},
            provenance=_json_file_or_text(provenance, "--provenance"),
            hold_budget=hold,
            credentials=credentials == "grant",
            link_template=link,
        )
    except (SettingsError, MappingError, typer.BadParameter, OSError) as exc:
        err(f"remit mcp proxy: {exc}", err=True)
        raise typer.Exit(2) from exc
    options = ProxyOptions(command, gate, pairs, call_timeout, timings)

    async def run() -> None:
        client = AsyncClient(settings.url, settings.api_key, agent=settings.agent)
        await serve(options, client)

    try:
        anyio.run(run)
    except UpstreamFailed as exc:
        err(f"remit mcp proxy: {exc}", err=True)
        raise typer.Exit(3) from exc
    except OSError as exc:
        err(f"remit mcp proxy: cannot start the upstream {command[0]!r}: {exc}", err=True)
        raise typer.Exit(3) from exc
