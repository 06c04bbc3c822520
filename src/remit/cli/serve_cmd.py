"""`remit serve` (the HTTP service) and `remit keys …` (API keys)."""

from __future__ import annotations

import enum
import gc
import re
import socket
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from remit.cli.common import (
    UNREACHABLE,
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    did_you_mean,
    err_console,
    fail,
    print_json,
    warn,
)
from remit.cli.ledger_access import (
    InitOption,
    db_target_or_fail,
    log_key_or_none,
    postgres_hint,
    store_or_fail,
)
from remit.cli.loading import envelope_or_fail, trusted_keys_or_fail
from remit.domain.clock import ts_text, utcnow
from remit.identity.model import Role
from remit.identity.store import KeyStore
from remit.ledger.open import is_postgres
from remit.ledger.store import LedgerUnavailable


class LogLevel(enum.StrEnum):
    """How much `remit serve` logs."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"


def serve(
    config: Path | None = typer.Option(None, "--config", help="YAML file of settings."),
    envelope: Path | None = typer.Option(None, "--envelope", help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(
        None, "--trusted-keys", help="Trusted public key file(s)."
    ),
    db: str | None = DbOption,
    init: bool = InitOption,
    log_key: str | None = typer.Option(
        None, "--log-key", help="Ledger signing key (REMIT_LOG_KEY)."
    ),
    host: str | None = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default 8700; 0 picks one)."),
    log_level: LogLevel = typer.Option(
        LogLevel.INFO,
        "--log-level",
        help="info: one JSON line per request and decision on stderr; warning: problems "
        "only; debug: also the server's own messages.",
        case_sensitive=False,
    ),
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
    """Run the Remit HTTP service (FastAPI on uvicorn). Every setting is checked, and the
    port bound, before anything is written; then a banner on stderr says where it
    listens and what it runs with."""
    import uvicorn

    from remit.server.app import SWITCH_INTERVAL, create_app
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
    # Everything the service needs is checked before the ledger is opened (or created).
    target = db_target_or_fail(cfg.db, init=init)
    loaded = envelope_or_fail(cfg.envelope)
    trusted = trusted_keys_or_fail(cfg.trusted_keys)
    signing = log_key_or_none(cfg.log_key)
    if signing is not None and signing.verifier() in trusted:
        fail(
            "--log-key: the ledger's log key is also a --trusted-keys entry: it could sign "
            "an envelope off. Key purposes must be separate: sign envelopes with a key of "
            "their own (remit keygen) and trust only its .pub"
        )
    if cfg.insecure_unsigned:
        warn(
            "--insecure-unsigned: envelope sign-offs are NOT checked. "
            "Never use this outside experiments."
        )
    sock = _bind_or_fail(cfg.host, cfg.port)
    try:
        rt = Runtime(cfg)
    except LedgerUnavailable as exc:
        sock.close()
        fail(str(exc) + postgres_hint(target, str(exc)), UNREACHABLE)
    except Exception as exc:
        sock.close()
        fail(f"cannot start: {exc}")
    bound_host, bound_port = sock.getsockname()[:2]
    view = rt.envelope_view()
    banner(
        url=_url(bound_host, bound_port),
        envelope=f"{loaded.envelope.metadata.name} v{loaded.envelope.metadata.version}",
        authority=_authority(view.trust.valid, view.trust.insecure, view.trust.detail, view),
        store=_store_text(target),
        aws=_aws_text(cfg.aws.backend, cfg.aws.endpoint_url, cfg.aws.region),
        log_key=signing.name if signing else None,
    )
    from remit.server.access_log import AccessLog, App
    from remit.server.metrics import Metrics

    app: App = Metrics(create_app(rt), rt)  # serves /metrics, times requests
    if log_level is not LogLevel.WARNING:
        app = AccessLog(app)
    gc.freeze()  # start-up objects live as long as the service: collections skip them
    sys.setswitchinterval(SWITCH_INTERVAL)  # requests wait less behind background sweeps
    limits = HttpLimits(
        max_head_bytes=cfg.max_head_bytes,
        request_read_timeout=cfg.request_read_timeout,
        max_connections=cfg.max_connections or default_max_connections(),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="debug" if log_level is LogLevel.DEBUG else "warning",
            access_log=False,
            http=protocol_class(limits),
            timeout_keep_alive=cfg.keep_alive_timeout,
            h11_max_incomplete_event_size=cfg.max_head_bytes,  # if run with --http h11
        )
    )
    server.run(sockets=[sock])


def _bind_or_fail(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a busy or forbidden port is a configuration
    error (exit 2) before anything is written, and `--port 0` learns its port here."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        fail(f"--host/--port: cannot listen on {host}:{port}: {why}")
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _authority(valid: bool, insecure: bool, detail: str, view: Any) -> str:
    if insecure:
        return "UNSIGNED (--insecure-unsigned: experiments only)"
    if not valid:
        return f"NOT authority — {detail}; everything is denied"
    signers = sorted({f"{c.signoff.signer} ({c.signoff.role})" for c in view.checks if c.valid})
    return "signed off by " + ", ".join(signers)


def _store_text(target: str) -> str:
    if is_postgres(target):
        return "PostgreSQL " + re.sub(r"//[^@/]*@", "//***@", target)  # no password shown
    return f"SQLite {Path(target).absolute()}"


def _aws_text(backend: str, endpoint: str | None, region: str) -> str:
    if backend == "sts":
        return f"sts in {region}" + (f" at {endpoint}" if endpoint else " (AWS)")
    return "local (no cloud: credentials are placeholders, not usable with AWS)"


def banner(
    url: str, envelope: str, authority: str, store: str, aws: str, log_key: str | None
) -> None:
    """The start-up lines on stderr: where it listens and what it runs with."""
    lines = [
        f"remit: serving on {url}",
        f"  envelope   {envelope}: {authority}",
        f"  ledger     {store}",
        f"  log key    {log_key or 'none (no checkpoints are signed)'}",
        f"  AWS        {aws}",
        f"  health     {url}/readyz   metrics {url}/metrics   API docs {url}/docs",
    ]
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Role = typer.Option(..., "--role", help="agent, approver, auditor, reviewer or admin."),
    name: str = typer.Option(..., "--name", help="Who or what holds the key."),
    agent: str | None = typer.Option(
        None, "--agent", help="For agent keys: the envelope agent id."
    ),
    envelope: Path | None = typer.Option(
        None,
        "--envelope",
        envvar="REMIT_ENVELOPE",
        help="Check --agent against this envelope's agents (also REMIT_ENVELOPE).",
    ),
    db: str | None = DbOption,
    init: bool = InitOption,
    actor: str = typer.Option("cli", "--actor", help="Identity recorded as having created it."),
    format_: OutputFormat = FormatOption,
) -> None:
    """Create a key; its secret is printed once, alone on the last line (json: as `key`)."""
    if agent is not None and envelope is not None:
        agents = envelope_or_fail(envelope).envelope.agents
        if agent not in agents:
            fail(
                f"--agent {agent!r} is not an agent of {envelope}"
                f"{did_you_mean(agent, agents)}; its agents: {', '.join(sorted(agents))}"
            )
    elif agent is not None:
        warn("--agent is not checked: give --envelope (or REMIT_ENVELOPE) to check it")
    store = store_or_fail(db, create=init)
    now = utcnow()
    try:
        record, text = KeyStore(store).create(name, role, agent, now, actor)
    except ValueError as exc:
        fail(str(exc))
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if format_ is OutputFormat.JSON:
        err_console.print("the key is shown once: store it now", highlight=False)
        print_json({"id": record.id, "name": name, "role": role.value, "agent": agent, "key": text})
        return
    console.print(
        f"created {role.value} key {record.id} for {name}"
        + (f" (agent {agent})" if agent else "")
        + " — store it now, it is not shown again:",
        highlight=False,
    )
    print(text)


@keys_app.command("list")
def keys_list(db: str | None = DbOption, format_: OutputFormat = FormatOption) -> None:
    """List keys (never their secrets)."""
    try:
        keys = KeyStore(store_or_fail(db)).list()
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if format_ is OutputFormat.JSON:
        print_json(
            [
                {
                    "id": k.id,
                    "name": k.name,
                    "role": k.role.value,
                    "agent": k.agent,
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                }
                for k in keys
            ]
        )
        return
    t = Table(title="API keys")
    for col in ("id", "name", "role", "agent", "created", "revoked"):
        t.add_column(col)
    for k in keys:
        t.add_row(k.id, k.name, k.role.value, k.agent or "—", k.created_at, k.revoked_at or "—")
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (the part after rk_)."),
    db: str | None = DbOption,
    actor: str = typer.Option("cli", "--actor"),
    format_: OutputFormat = FormatOption,
) -> None:
    """Revoke a key at once."""
    store = store_or_fail(db)
    now = utcnow()
    try:
        revoked = KeyStore(store).revoke(key_id, now, actor)
    except LedgerUnavailable as exc:
        fail(str(exc), UNREACHABLE)
    if not revoked:
        fail(f"no active key {key_id}")
    if format_ is OutputFormat.JSON:
        print_json({"revoked": key_id, "at": ts_text(now)})
    else:
        console.print(f"revoked {key_id}", highlight=False)
