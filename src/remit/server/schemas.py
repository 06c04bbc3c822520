"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from remit.domain.clock import ts_text


def _ledger_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("the time must carry a time zone (e.g. 2026-11-21T10:00:00Z)")
    try:  # the ledger's time text holds years 1-9999 once in UTC
        ts_text(value)
    except ValueError:
        raise ValueError(
            f"{value.isoformat()} is out of the range the ledger records (years 1-9999 in UTC)"
        ) from None
    return value


ZonedTime = Annotated[datetime, AfterValidator(_ledger_time)]
"""A time the API takes: it carries a zone, and in UTC it lies in the years the ledger's
time text holds (1-9999) — `0001-01-01T00:00:00+00:01` is refused (422), not a 500."""

SCHEMA_REF = "#/components/schemas/"
"""Where the OpenAPI document keeps named schemas (see `component_schemas`)."""


def component_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI component schemas of `models` and of the models they use, for routes
    that validate their body themselves and so only reference its schema by name."""
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF + "{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ReasonOut(BaseModel):
    code: str
    message: str


class EnvelopeRefOut(BaseModel):
    name: str
    version: int
    digest: str


class ApprovalOut(BaseModel):
    decision_id: str
    state: Literal["pending", "approved", "rejected", "expired", "withdrawn"]
    requested_by: str
    on_behalf_of: str | None
    request_digest: str
    expires_at: str
    resolved_by: str | None = None
    comment: str | None = None
    resolved_at: str | None = None


class DecisionOut(BaseModel):
    """A decision, and what the agent may do now (`status`)."""

    id: str
    tier: Literal["autonomous", "notify", "approve", "deny"]
    status: Literal["allowed", "pending", "denied"]
    allowed: bool = Field(description="True when the agent may act now (status == allowed).")
    reasons: list[ReasonOut]
    rules: list[str]
    envelope: EnvelopeRefOut
    decided_at: str
    agent: str
    action: str
    access_level: str | None = None
    fallback_rule: str | None = None
    ledger_index: int | None = None
    recorded: bool = True
    approval: ApprovalOut | None = None
    rollback: Literal["available", "unavailable", "not_needed"] | None = None
    batchable: bool = Field(
        False,
        description="An autonomous read the envelope lets the SDK reuse for the same action "
        "and resources within one step (defaults.batch_reads).",
    )


class OutcomeIn(_In):
    status: Literal["succeeded", "failed"]
    error: Annotated[str, StringConstraints(max_length=4000)] | None = None
    cloud_request_ids: Annotated[
        list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=1000)
    ] = Field(default_factory=list)


class OutcomeOut(BaseModel):
    decision_id: str
    ledger_index: int
    ran_without_allow: bool


class ResolveIn(_In):
    comment: Annotated[str, StringConstraints(max_length=4000)] = ""
    request_digest: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="The digest of the request you reviewed; refused if it differs."
    )


class ApprovalDetailOut(BaseModel):
    """Everything an approver needs to judge one held action."""

    approval: ApprovalOut
    decision: dict[str, Any]
    request: dict[str, Any]
    blast_radius: dict[str, Any] | None
    credential_preview: dict[str, Any] | None = Field(
        None,
        description="What credentials for this decision would be able to do if approved "
        '("this credential can do exactly: …").',
    )


class EventIn(_In):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    at: ZonedTime | None = None
    note: Annotated[str, StringConstraints(max_length=4000)] = ""


class EventOut(BaseModel):
    ledger_index: int
    kind: str
    at: str


class CheckpointOut(BaseModel):
    size: int
    root_hash: str
    note: str


class ProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    leaf: str
    inclusion_proof: list[str]
    checkpoint: str | None


class ConsistencyOut(BaseModel):
    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    consistency_proof: list[str]
    from_checkpoint: str | None
    to_checkpoint: str | None

    model_config = ConfigDict(populate_by_name=True)


class Problem(BaseModel):
    detail: str | list[Any]


class GrantOut(BaseModel):
    """Scoped credentials (shown once) and what they can do."""

    decision_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: str
    revoke_at: str
    role_arn: str
    session_name: str
    session_policy: dict[str, Any]
    effective_permissions: list[dict[str, Any]]
    effective_summary: str
    rollback: dict[str, Any]
    region: str
    endpoint_url: str | None
    backend: str


class RevokeOut(BaseModel):
    decision_id: str
    applied: bool
