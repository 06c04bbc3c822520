"""Service configuration: one file (YAML) plus REMIT_* environment variables plus the
command line, in rising order of precedence. Validated at start; a bad value stops the
service with a message naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from remit.notify.settings import NotifySettings
from remit.settings_errors import describe


class AwsConfig(BaseModel):
    """Where credentials come from: `local` (no cloud) or `sts` (AWS, or a moto server)."""

    model_config = ConfigDict(extra="forbid")
    backend: Literal["local", "sts"] = "local"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None


class ServerConfig(BaseModel):
    """Everything `remit serve` needs."""

    model_config = ConfigDict(extra="forbid")
    envelope: Path
    trusted_keys: list[str] = Field(default_factory=list)
    db: str = ".remit/remit.db"
    log_key: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=0, le=65535)
    insecure_unsigned: bool = False
    notify: NotifySettings | None = Field(
        None,
        description="Who is told of notify and approve decisions, and how: the notifier's "
        "own settings (`remit.notify.settings`; docs/service.md lists them). Absent or "
        "empty: nobody is told.",
    )
    aws: AwsConfig = Field(default_factory=AwsConfig)
    checkpoint_every: float = Field(30.0, gt=0, description="seconds between checkpoints")
    checkpoint_after_commit: bool = Field(
        False,
        description="also sign a checkpoint after every group commit of decisions, before "
        "they are answered (no answered decision is ever outside a signed checkpoint; costs "
        "a signing and a write per group); needs log_key",
    )
    max_body_bytes: int = Field(1_048_576, gt=0)
    public_url: str | None = None
    # Robustness limits (issue 12; docs/service.md, "Limits"). Kept last: another
    # branch edits the notifier settings above.
    writer_deadline: float = Field(
        5.0, gt=0, description="seconds the decision writer has to answer; then deny + restart"
    )
    max_head_bytes: int = Field(
        16_384, ge=1024, description="largest request line plus headers (431 beyond)"
    )
    request_read_timeout: float = Field(
        10.0, gt=0, description="seconds to receive a request's head and body (408 beyond)"
    )
    keep_alive_timeout: int = Field(5, ge=1, description="seconds an idle connection is kept")
    max_connections: int | None = Field(
        None, ge=1, description="open connections at most (default: from the fd limit)"
    )

    @model_validator(mode="after")
    def _checkpoints_need_a_key(self) -> ServerConfig:
        if self.checkpoint_after_commit and not self.log_key:
            raise ValueError("checkpoint_after_commit needs log_key (the key that signs them)")
        return self

    @field_validator("notify", mode="before")
    @classmethod
    def _empty_notify_is_none(cls, value: object) -> object:
        return None if value == {} else value

    def notify_dict(self) -> dict[str, Any]:
        """The notifier's settings as a mapping (`Notifier.from_config` takes it), or {}
        when nobody is to be told."""
        return {} if self.notify is None else self.notify.model_dump(exclude_none=True)


ENV = {
    "REMIT_ENVELOPE": "envelope",
    "REMIT_TRUSTED_KEYS": "trusted_keys",
    "REMIT_DB": "db",
    "REMIT_LOG_KEY": "log_key",
    "REMIT_HOST": "host",
    "REMIT_PORT": "port",
    "REMIT_WEBHOOK_URL": "notify.webhook.url",
    "REMIT_CHECKPOINT_EVERY": "checkpoint_every",
    "REMIT_CHECKPOINT_AFTER_COMMIT": "checkpoint_after_commit",
    "REMIT_PUBLIC_URL": "public_url",
    "REMIT_AWS_BACKEND": "aws.backend",
    "REMIT_AWS_ENDPOINT_URL": "aws.endpoint_url",
    "REMIT_AWS_REGION": "aws.region",
    "REMIT_WRITER_DEADLINE": "writer_deadline",
    "REMIT_MAX_HEAD_BYTES": "max_head_bytes",
    "REMIT_REQUEST_READ_TIMEOUT": "request_read_timeout",
    "REMIT_KEEP_ALIVE_TIMEOUT": "keep_alive_timeout",
    "REMIT_MAX_CONNECTIONS": "max_connections",
}


class ConfigError(ValueError):
    """The configuration is unusable; the message names the setting."""


def _set(data: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for i, p in enumerate(parents):
        child = node.get(p)
        if child is None:
            child = node[p] = {}
        elif not isinstance(child, dict):
            where = ".".join(parents[: i + 1])
            kind = "a list" if isinstance(child, list) else f"a {type(child).__name__}"
            raise ConfigError(
                f"{source} sets {dotted}, but {where} in the config file is {kind}: "
                "set it in the file instead"
            )
        node = child
    node[leaf] = value


def load_config(path: Path | None, overrides: dict[str, Any]) -> ServerConfig:
    """File, then environment, then command-line `overrides` (dotted keys; None = unset)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"--config {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {path}: expected a mapping of settings")
        data = loaded
    for var, key in ENV.items():
        if var in os.environ:
            value: Any = os.environ[var]
            if key == "trusted_keys":
                value = [v for v in value.split(os.pathsep) if v]
            _set(data, key, value, var)
    for key, value in overrides.items():
        if value is not None and value != []:
            _set(data, key, value, "the command line")
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(describe(exc, data))
        raise ConfigError(f"configuration is not valid: {problems}") from None
