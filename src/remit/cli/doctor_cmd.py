"""`remit doctor`: the checks a service needs, run from the command line before (or
while) it serves — settings, envelope validity and authority, review and expiry, key
purposes, the ledger, AWS (for the sts backend: credentials, and that each agent's
execution role can be assumed the way grants assume it), and optionally a running
service's /readyz. Each failed check says what to fix. Exit 0 all pass, 1 any fails,
2 the settings themselves cannot be read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from remit.cli.common import (
    CHECK_FAILED,
    DbOption,
    FormatOption,
    OutputFormat,
    console,
    fail,
    print_json,
)
from remit.domain.clock import utcnow
from remit.envelope import EnvelopeError, load_envelope
from remit.envelope.signoff import SignoffError, check_signoffs, read_signoffs, signoffs_path
from remit.envelope.status import envelope_status
from remit.ledger.open import UnsupportedDatabase, is_postgres, open_store, resolve_db
from remit.ledger.store import LedgerUnavailable
from remit.signing.keys import KeyFormatError, VerifierKey, load_signing_key, load_verifier_key


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


def doctor(
    config: Path | None = typer.Option(None, "--config", help="The serve YAML config."),
    envelope: Path | None = typer.Option(None, "--envelope", help="Envelope YAML file."),
    trusted_keys: list[str] = typer.Option(None, "--trusted-keys", help="Trusted public keys."),
    db: str | None = DbOption,
    log_key: str | None = typer.Option(None, "--log-key", help="Ledger log key (REMIT_LOG_KEY)."),
    aws_backend: str | None = typer.Option(None, "--aws-backend", help="local or sts."),
    aws_endpoint_url: str | None = typer.Option(None, "--aws-endpoint-url"),
    aws_region: str | None = typer.Option(None, "--aws-region"),
    url: str | None = typer.Option(None, "--url", help="Also ask a running service's /readyz."),
    format_: OutputFormat = FormatOption,
) -> None:
    """Check what `remit serve` needs, and say what to fix."""
    from remit.server.config import ConfigError, load_config

    overrides = {
        "envelope": envelope,
        "trusted_keys": trusted_keys,
        "db": db,
        "log_key": log_key,
        "aws.backend": aws_backend,
        "aws.endpoint_url": aws_endpoint_url,
        "aws.region": aws_region,
    }
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        fail(str(exc))
    checks: list[Check] = []
    trusted = _trust_anchors(cfg.trusted_keys, checks)
    agents = _envelope(cfg.envelope, trusted, checks)
    _log_key(cfg.log_key, trusted, checks)
    _ledger(cfg.db, checks)
    if cfg.aws.backend == "sts":
        _aws(cfg.aws.profile, cfg.aws.region, cfg.aws.endpoint_url, agents, checks)
    else:
        checks.append(
            Check(
                "aws",
                True,
                "backend local: no cloud; credentials are placeholders",
                "for real credentials use --aws-backend sts (docs/aws-setup.md)",
            )
        )
    if url:
        _service(url, checks)
    if format_ is OutputFormat.JSON:
        print_json({"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]})
    else:
        t = Table(title="remit doctor")
        for col in ("check", "", "detail", "to fix"):
            t.add_column(col, overflow="fold")
        for c in checks:
            mark = "[green]ok[/]" if c.ok else "[red]FAIL[/]"
            t.add_row(c.name, mark, escape(c.detail), escape(c.fix if not c.ok else ""))
        console.print(t)
    if not all(c.ok for c in checks):
        raise typer.Exit(CHECK_FAILED)


def _trust_anchors(sources: list[str], checks: list[Check]) -> list[VerifierKey]:
    keys = []
    for src in sources:
        try:
            text = Path(src).read_text("utf-8") if Path(src).is_file() else src
        except OSError as exc:
            checks.append(Check(f"trusted key {src}", False, str(exc), "give a readable .pub file"))
            continue
        if text.strip().startswith("PRIVATE+KEY+"):
            checks.append(
                Check(
                    f"trusted key {src}",
                    False,
                    "a PRIVATE key given as a trust anchor",
                    "give the public key (.pub) instead; keep the private key off servers",
                )
            )
            continue
        try:
            keys.append(load_verifier_key(src))
        except (KeyFormatError, OSError) as exc:
            checks.append(Check(f"trusted key {src}", False, str(exc), "give a .pub file"))
    if not sources:
        checks.append(
            Check(
                "trusted keys",
                False,
                "none given: the envelope cannot be authority",
                "add trusted_keys (the sign-off key's .pub) to the config",
            )
        )
    elif keys:
        checks.append(Check("trusted keys", True, ", ".join(k.name for k in keys)))
    return keys


def _envelope(path: Path, trusted: list[VerifierKey], checks: list[Check]) -> dict[str, Any]:
    try:
        loaded = load_envelope(path)
    except EnvelopeError as exc:
        checks.append(Check("envelope", False, str(exc), f"remit envelope check {path}"))
        return {}
    meta = loaded.envelope.metadata
    checks.append(Check("envelope", True, f"{meta.name} v{meta.version} is valid"))
    now = utcnow()
    try:
        signoffs = read_signoffs(signoffs_path(path))
    except SignoffError as exc:
        checks.append(Check("authority", False, str(exc), "fix or remove the sign-offs file"))
        return dict(loaded.envelope.agents)
    trust, found = check_signoffs(loaded, signoffs, trusted, now)
    checks.append(
        Check(
            "authority",
            trust.valid,
            trust.detail,
            f"remit envelope sign {path} --key <sign-off key> --signer … --role …",
        )
    )
    st = envelope_status(loaded, trust, found, [], now)
    checks.append(
        Check(
            "expiry",
            not st.expired,
            f"expires {st.expires_at:%Y-%m-%d}",
            "raise metadata.expires_at, bump the version and sign off again",
        )
    )
    if trust.valid:
        checks.append(
            Check(
                "review",
                not st.review_overdue,
                f"next review due {st.next_review_due:%Y-%m-%d}" if st.next_review_due else "",
                "review the envelope and sign it off again",
            )
        )
    return dict(loaded.envelope.agents)


def _log_key(source: str | None, trusted: list[VerifierKey], checks: list[Check]) -> None:
    if not source:
        checks.append(
            Check(
                "log key",
                False,
                "none: checkpoints are not signed",
                "set log_key (e.g. keys/log.key from `remit init`) or REMIT_LOG_KEY",
            )
        )
        return
    try:
        key = load_signing_key(source)
    except (KeyFormatError, OSError) as exc:
        checks.append(Check("log key", False, str(exc), "give the log's private key file"))
        return
    if key.verifier() in trusted:
        checks.append(
            Check(
                "log key",
                False,
                "the log key is also a trusted envelope key",
                "sign envelopes with a separate key; trust only its .pub",
            )
        )
        return
    checks.append(Check("log key", True, f"{key.name}, separate from the envelope keys"))


def _ledger(db: str, checks: list[Check]) -> None:
    try:
        target = resolve_db(db)
    except UnsupportedDatabase as exc:
        checks.append(Check("ledger", False, str(exc), "use an SQLite path or postgresql:// URL"))
        return
    if not is_postgres(target) and not Path(target).exists():
        checks.append(
            Check(
                "ledger",
                False,
                f"no ledger at {target}",
                "check the path, or start one: remit serve --init (or remit init)",
            )
        )
        return
    try:
        store = open_store(target, create=False)
        size = store.size()
        store.close()
    except LedgerUnavailable as exc:
        fix = (
            "createdb remit; grant the Remit role CREATE on the database (docs/postgres.md)"
            if is_postgres(target)
            else "check the file's permissions and the disk"
        )
        checks.append(Check("ledger", False, str(exc), fix))
        return
    checks.append(Check("ledger", True, f"{size} entries"))


def _aws(
    profile: str | None,
    region: str,
    endpoint: str | None,
    agents: dict[str, Any],
    checks: list[Check],
) -> None:
    """The broker's checks, the same ones /readyz runs (remit.grants.readiness)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from remit.grants.readiness import check_broker

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        checks.append(Check("aws credentials", False, str(exc), "check the AWS profile"))
        return
    for c in check_broker(session, region, endpoint, agents):
        checks.append(Check(c.name, c.ok, c.detail, c.fix))


def _service(url: str, checks: list[Check]) -> None:
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/readyz", timeout=10)
    except httpx.HTTPError as exc:
        checks.append(Check("service", False, f"{url}: {exc}", "start it: remit serve …"))
        return
    body = r.text
    checks.append(
        Check(
            "service",
            r.status_code == 200,
            f"{url}/readyz: {r.status_code} {body[:300]}",
            "see the problems /readyz lists",
        )
    )
