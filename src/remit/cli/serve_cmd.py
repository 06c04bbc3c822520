"""`remit serve` (the HTTP service) and `remit keys …` (API keys)."""

from __future__ import annotations

import gc
from pathlib import Path

import typer
from rich.table import Table

from remit.cli.common import DbOption, console, fail, warn
from remit.cli.ledger_access import store_or_fail
from remit.domain.clock import utcnow
from remit.identity.model import Role
from remit.identity.store import KeyStore
from remit.ledger.store import LedgerUnavailable


def serve(
    config: Path | None = typer.Option(None, "--config", help="YAML file of settings."),
    envelope: Path | None = typer.Option(None, "--envelope", help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted public key file(s)."
    ),
    db: str | None = DbOption,
    log_key: str | None = typer.Option(
        None, "--log-key", help="Ledger signing key (REMIT_LOG_KEY)."
    ),
    host: str | None = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default 8700; 0 picks one)."),
    insecure_unsigned: bool = typer.Option(
        False, "--insecure-unsigned", help="Accept an unsigned envelope (experiments only)."
    ),
    webhook_url: str | None = typer.Option(
        None, "--webhook-url", help="Slack-compatible webhook for notify/approve."
    ),
    smtp_host: str | None = typer.Option(
        None, "--smtp-host", help="SMTP server for notify/approve e-mail."
    ),
    smtp_port: int | None = typer.Option(None, "--smtp-port"),
    smtp_from: str | None = typer.Option(None, "--smtp-from"),
    smtp_to: list[str] = typer.Option(None, "--smtp-to", help="Recipient (repeat for several)."),
    checkpoint_every: float | None = typer.Option(
        None, "--checkpoint-every", help="Seconds between checkpoints."
    ),
    checkpoint_after_commit: bool = typer.Option(
        False,
        "--checkpoint-after-commit",
        help="Also sign a checkpoint after every group commit, before answering (needs "
        "--log-key): no answered decision is outside a signed checkpoint.",
    ),
    public_url: str | None = typer.Option(
        None, "--public-url", help="Base URL for links in notifications."
    ),
    aws_backend: str | None = typer.Option(
        None, "--aws-backend", help="local (no cloud, the default) or sts (AWS or a moto server)."
    ),
    aws_endpoint_url: str | None = typer.Option(
        None, "--aws-endpoint-url", help="AWS endpoint, e.g. a local moto server."
    ),
    aws_region: str | None = typer.Option(None, "--aws-region"),
    writer_deadline: float | None = typer.Option(
        None, "--writer-deadline", help="Seconds the decision writer has to answer (default 5)."
    ),
    max_head_bytes: int | None = typer.Option(
        None, "--max-head-bytes", help="Largest request line plus headers (default 16384)."
    ),
    request_read_timeout: float | None = typer.Option(
        None, "--request-read-timeout", help="Seconds to receive a request (default 10)."
    ),
    keep_alive_timeout: int | None = typer.Option(
        None, "--keep-alive-timeout", help="Seconds an idle connection is kept (default 5)."
    ),
    max_connections: int | None = typer.Option(
        None, "--max-connections", help="Open connections at most (default: fd limit - 64)."
    ),
) -> None:
    """Run the Remit HTTP service (FastAPI on uvicorn)."""
    import uvicorn

    from remit.server.app import create_app
    from remit.server.config import ConfigError, load_config
    from remit.server.http_limits import HttpLimits, default_max_connections, protocol_class
    from remit.server.runtime import Runtime

    overrides = {
        "envelope": envelope,
        "trusted_keys": trusted_keys,
        "db": db,
        "log_key": log_key,
        "host": host,
        "port": port,
        "insecure_unsigned": insecure_unsigned or None,
        "notify.webhook.url": webhook_url,
        "notify.smtp.host": smtp_host,
        "notify.smtp.port": smtp_port,
        "notify.smtp.sender": smtp_from,
        "notify.smtp.recipients": smtp_to,
        "checkpoint_every": checkpoint_every,
        "checkpoint_after_commit": checkpoint_after_commit or None,
        "public_url": public_url,
        "aws.backend": aws_backend,
        "aws.endpoint_url": aws_endpoint_url,
        "aws.region": aws_region,
        "writer_deadline": writer_deadline,
        "max_head_bytes": max_head_bytes,
        "request_read_timeout": request_read_timeout,
        "keep_alive_timeout": keep_alive_timeout,
        "max_connections": max_connections,
    }
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        fail(str(exc))
    if cfg.insecure_unsigned:
        warn(
            "--insecure-unsigned: envelope sign-offs are NOT checked. "
            "Never use this outside experiments."
        )
    try:
        rt = Runtime(cfg)
    except LedgerUnavailable as exc:
        fail(str(exc), 1)
    except Exception as exc:
        fail(f"cannot start: {exc}")
    app = create_app(rt)
    gc.freeze()  # start-up objects live as long as the service: collections skip them
    limits = HttpLimits(
        max_head_bytes=cfg.max_head_bytes,
        request_read_timeout=cfg.request_read_timeout,
        max_connections=cfg.max_connections or default_max_connections(),
    )
    uvicorn.run(
        app,
        host=cfg.host,
        port=cfg.port,
        log_level="warning",
        access_log=False,
        http=protocol_class(limits),
        timeout_keep_alive=cfg.keep_alive_timeout,
        h11_max_incomplete_event_size=cfg.max_head_bytes,  # if run with --http h11 elsewhere
    )


keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Role = typer.Option(..., "--role", help="agent, approver, auditor, reviewer or admin."),
    name: str = typer.Option(..., "--name", help="Who or what holds the key."),
    agent: str | None = typer.Option(
        None, "--agent", help="For agent keys: the envelope agent id."
    ),
    db: str | None = DbOption,
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as having created it."),
) -> None:
    """Create a key; its secret is printed once, alone on the last line."""
    store = store_or_fail(db)
    now = utcnow()
    try:
        record, text = KeyStore(store).create(name, role, agent, now, actor)
    except ValueError as exc:
        fail(str(exc))
    except LedgerUnavailable as exc:
        fail(str(exc), 1)
    console.print(
        f"created {role.value} key {record.id} for {name}"
        + (f" (agent {agent})" if agent else "")
        + " — store it now, it is not shown again:",
        highlight=False,
    )
    print(text)


@keys_app.command("list")
def keys_list(db: str | None = DbOption) -> None:
    """List keys (never their secrets)."""
    t = Table(title="API keys")
    for col in ("id", "name", "role", "agent", "created", "revoked"):
        t.add_column(col)
    for k in KeyStore(store_or_fail(db, create=False)).list():
        t.add_row(k.id, k.name, k.role.value, k.agent or "—", k.created_at, k.revoked_at or "—")
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (the part after rk_)."),
    db: str | None = DbOption,
    actor: str = typer.Option("cli", "--actor"),
) -> None:
    """Revoke a key at once."""
    store = store_or_fail(db, create=False)
    now = utcnow()
    try:
        revoked = KeyStore(store).revoke(key_id, now, actor)
    except LedgerUnavailable as exc:
        fail(str(exc), 3)
    if not revoked:
        fail(f"no active key {key_id}")
    console.print(f"revoked {key_id}")
