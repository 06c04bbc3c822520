"""What an AI actor asks: the `ActionRequest` and its reasoning, provenance and resources.

Validation happens at construction (pydantic, strict about unknown fields and about
types: no string or boolean becomes a number), so an invalid request cannot exist, and
every valid one can be written canonically on the ledger (integers fit in 64 bits,
numbers are finite, free-form JSON nests at most `MAX_DEPTH` deep). This module does not
decide anything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
)

from remit.domain.patterns import ACTION_NAME, ARN, ARN_PATTERN, has_wildcard

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\w.@:/+-]+$")]
Text = Annotated[str, StringConstraints(max_length=10_000)]

INT_RANGE = (-(2**63), 2**63 - 1)
"""Integers a request may carry: 64-bit signed, what every JSON reader and the ledger's
canonical form can hold exactly."""
MAX_DEPTH = 32
"""How deeply free-form JSON (parameters) may nest."""


def _recordable(value: Any, where: str = "", depth: int = 0) -> None:
    """Refuse JSON the ledger could not write canonically (ints beyond 64 bits, non-finite
    numbers, non-string keys, nesting past MAX_DEPTH), naming where it is."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where or 'value'}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise ValueError(f"{where or 'value'}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{where or 'value'}: numbers must be finite")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where or 'value'}: keys must be strings, got {k!r}")
            _recordable(v, f"{where}.{k}" if where else k, depth + 1)
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _recordable(v, f"{where}[{i}]", depth + 1)
        return
    raise ValueError(f"{where or 'value'}: {type(value).__name__} is not JSON")


def _recordable_json(value: dict[str, Any]) -> dict[str, Any]:
    _recordable(value)
    return value


def _recordable_scalar(value: Any) -> Any:
    if isinstance(value, int | float):  # before any union member turns it into another type
        _recordable(value)
    return value


SignalValue = Annotated[
    StrictStr | StrictInt | StrictFloat | StrictBool, BeforeValidator(_recordable_scalar)
]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=False, allow_inf_nan=False
    )


class Origin(StrEnum):
    """Who generated the decision to act: an AI, or a human."""

    AI = "ai"
    HUMAN = "human"


class Signal(_Frozen):
    """One piece of evidence behind the request (what triggered it, and where it came from)."""

    name: Name
    value: SignalValue | None = None
    source: Annotated[str, StringConstraints(max_length=200)] | None = None


class Alternative(_Frozen):
    """An alternative action the actor considered, and why it was rejected."""

    action: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    rejected_because: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Reasoning(_Frozen):
    """Why the actor wants to act: summary, signals, confidence and alternatives."""

    summary: Text | None = None
    signals: tuple[Signal, ...] = ()
    confidence: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = None
    alternatives: tuple[Alternative, ...] = ()

    def present_fields(self) -> frozenset[str]:
        """The reasoning fields that carry content (empty strings and lists do not count)."""
        present = set()
        if self.summary and self.summary.strip():
            present.add("summary")
        if self.signals:
            present.add("signals")
        if self.confidence is not None:
            present.add("confidence")
        if self.alternatives:
            present.add("alternatives")
        return frozenset(present)


class ModelRef(_Frozen):
    """A model name and version."""

    name: Name
    version: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class WorkflowRef(_Frozen):
    """The workflow, run and step a request belongs to."""

    name: Name
    run: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    step: Name | None = None


class Provenance(_Frozen):
    """Who and what produced the request: model, prompt hash, tool set, workflow, parent
    decision."""

    model: ModelRef | None = None
    prompt_sha256: Annotated[str, StringConstraints(max_length=200)] | None = None
    tools_sha256: Annotated[str, StringConstraints(max_length=200)] | None = None
    """A digest of the tools the agent can call (names and input schemas): a change of
    tool set opens a new drift observation window, as a model update does."""
    workflow: WorkflowRef | None = None
    parent_decision: Annotated[str, StringConstraints(max_length=200)] | None = None


class Resource(_Frozen):
    """A resource the action touches: its ARN and the tags that classify it."""

    arn: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    tags: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=128)],
        Annotated[str, StringConstraints(max_length=256)],
    ] = Field(default_factory=dict)

    @field_validator("arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        if not ARN.match(v) and not (has_wildcard(v) and ARN_PATTERN.match(v)):
            raise ValueError(
                f"not an ARN: {v!r} (expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
            )
        return v


class FallbackRef(_Frozen):
    """Marks a request as a retry with broader scope after a permission failure."""

    of: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    failed_action: str
    error: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    @field_validator("failed_action")
    @classmethod
    def _action(cls, v: str) -> str:
        if not ACTION_NAME.match(v):
            raise ValueError(f"not an IAM action name: {v!r} (expected service:Action)")
        return v


class ActionRequest(_Frozen):
    """An AI actor's question: may `agent` perform `action` on `resources`, for these reasons?"""

    agent: Name
    origin: Origin = Origin.AI
    on_behalf_of: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = None
    action: Annotated[str, Field(json_schema_extra={"pattern": ACTION_NAME.pattern})]
    resources: Annotated[
        tuple[Resource, ...], Field(max_length=1000, json_schema_extra={"minItems": 1})
    ]
    environment: Name | None = None
    reasoning: Reasoning = Field(default_factory=Reasoning)
    provenance: Provenance = Field(default_factory=Provenance)
    fallback: FallbackRef | None = None
    parameters: Annotated[
        dict[Annotated[str, StringConstraints(max_length=128)], Any],
        Field(max_length=100),
        AfterValidator(_recordable_json),
    ] = Field(
        default_factory=dict,
        description="The API call's parameters, by their AWS names (e.g. RoleName, PolicyArn): "
        "what the approver sees and what rollback snapshots.",
    )

    @field_validator("resources", mode="before")
    @classmethod
    def _some_resources(cls, v: Any) -> Any:
        if isinstance(v, list | tuple) and not v:
            raise ValueError("at least 1 resource is required (the ARNs the action touches)")
        return v

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if not ACTION_NAME.match(v):
            raise ValueError(
                f"not an IAM action name: {v!r} (expected one exact action, like "
                "'iam:DetachRolePolicy'; wildcards are for envelope rules, not requests)"
            )
        return v

    def canonical(self) -> dict[str, Any]:
        """The request as plain JSON-ready data (what the ledger records)."""
        return self.model_dump(mode="json")
