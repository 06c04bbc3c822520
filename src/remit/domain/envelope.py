"""The policy envelope as a typed document: metadata, defaults, agents, workflows, rules,
protected resource sets, regulations and fallbacks.

An `Envelope` is validated when it is built, so a malformed one cannot exist. Reading YAML,
computing digests and checking sign-offs live in `remit.envelope`, not here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from remit.domain.durations import Duration
from remit.domain.patterns import ACTION_PATTERN, ARN_PATTERN
from remit.domain.requests import ModelRef
from remit.domain.tiers import Tier

Id = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
EventKind = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
]
AccessLevel = Literal["Read", "List", "Write", "Permissions management", "Tagging"]
ReasoningField = Literal["summary", "signals", "confidence", "alternatives"]


class _Strict(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


def _check_actions(values: tuple[str, ...]) -> tuple[str, ...]:
    for v in values:
        if not ACTION_PATTERN.match(v):
            raise ValueError(
                f"not an IAM action pattern: {v!r} (expected service:Action, wildcards * and ? "
                "allowed, e.g. 'iam:List*')"
            )
    return values


def _check_arns(values: tuple[str, ...]) -> tuple[str, ...]:
    for v in values:
        if not ARN_PATTERN.match(v):
            raise ValueError(
                f"not an ARN pattern: {v!r} (expected arn:PARTITION:SERVICE:REGION:ACCOUNT:"
                "RESOURCE, wildcards * and ? allowed, or '*')"
            )
    return values


ActionList = Annotated[tuple[str, ...], Field(min_length=1)]
ArnList = Annotated[tuple[str, ...], Field(min_length=1)]


class Metadata(_Strict):
    """Who owns the envelope, what it defends against, and when it must be reviewed."""

    name: Id
    version: Annotated[int, Field(gt=0)]
    owner: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
    threat_model: Annotated[str, StringConstraints(min_length=1)]
    review_every: Duration
    expires_at: AwareDatetime
    revalidate_on: tuple[EventKind, ...] = ()
    description: str | None = None


class Defaults(_Strict):
    """What happens when nothing more specific applies."""

    unmatched: Tier = Tier.DENY
    out_of_workflow: Tier = Tier.APPROVE
    severity_floors: dict[AccessLevel, Tier] = Field(default_factory=dict)
    reasoning: dict[Tier, tuple[ReasoningField, ...]] = Field(default_factory=dict)
    approval_timeout: Duration = timedelta(hours=1)
    irreversible: Tier | None = None
    grant_window: Duration = timedelta(minutes=15)
    grant_duration: Duration = timedelta(minutes=15)
    batch_reads: bool = False


class Agent(_Strict):
    """An AI actor: the service account it runs as, its validated models, its workflows."""

    service_account: str
    models: tuple[ModelRef, ...] = ()
    workflows: tuple[Id, ...] = ()
    execution_role: str | None = None
    description: str | None = None
    scope_justification: str | None = None
    """Why the service account holds what it holds, in words (shown by the audit)."""

    @field_validator("service_account", "execution_role")
    @classmethod
    def _arn(cls, v: str | None) -> str | None:
        if v is not None:
            _check_arns((v,))
        return v


class Step(_Strict):
    """One step of a workflow and the actions it may take."""

    actions: ActionList

    _a = field_validator("actions")(classmethod(lambda cls, v: _check_actions(v)))


class Workflow(_Strict):
    """A declared workflow: its named steps."""

    steps: Annotated[dict[Id, Step], Field(min_length=1)]
    description: str | None = None


class When(_Strict):
    """Conditions a request must meet for the rule's tier to hold."""

    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class Window(_Strict):
    """A cumulative limit: at most `max_actions` per `per`."""

    max_actions: Annotated[int, Field(gt=0)]
    per: Duration


class BlastRadius(_Strict):
    """The largest scope one action (and one window of actions) may have."""

    max_resources: Annotated[int, Field(gt=0)] | None = None
    max_accounts: Annotated[int, Field(gt=0)] | None = None
    window: Window | None = None


class Rule(_Strict):
    """Which agents may do which actions on which resources, at which tier."""

    id: Id
    agents: Annotated[tuple[Id | Literal["*"], ...], Field(min_length=1)]
    actions: ActionList
    resources: ArnList
    tier: Tier
    when: When | None = None
    blast_radius: BlastRadius | None = None
    grant_duration: Duration | None = None
    allow_wildcards: bool = Field(
        default=False,
        description="Whether a request may name resources by wildcard (`*`, `?`) under this "
        "rule. Default false: a wildcard request resource is denied unless every rule it "
        "touches sets this. When allowed, a wildcard counts as unbounded against "
        "`blast_radius.max_resources`, and the credential carries the wildcard as written.",
    )
    description: str | None = None

    _a = field_validator("actions")(classmethod(lambda cls, v: _check_actions(v)))
    _r = field_validator("resources")(classmethod(lambda cls, v: _check_arns(v)))


class ResourceMatch(_Strict):
    """Selects resources by tags (all must be equal) and/or ARN patterns (any may match)."""

    tags: dict[str, str] = Field(default_factory=dict)
    resources: tuple[str, ...] = ()

    _r = field_validator("resources")(classmethod(lambda cls, v: _check_arns(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> ResourceMatch:
        if not self.tags and not self.resources:
            raise ValueError("match needs `tags` or `resources` (an empty match selects nothing)")
        return self


class TaggedResources(_Strict):
    """An inventory entry: the tags every resource under these ARN patterns carries. The
    inventory is signed with the envelope, so these tags — not the ones a request claims
    — decide which resources protected sets and regulations select."""

    resources: Annotated[tuple[str, ...], Field(min_length=1)]
    tags: dict[str, str] = Field(default_factory=dict)

    _r = field_validator("resources")(classmethod(lambda cls, v: _check_arns(v)))


class Protected(_Strict):
    """A protected resource set: anything in it is decided at `min_tier` or stricter."""

    id: Id
    match: ResourceMatch
    min_tier: Tier
    description: str | None = None


class Regulation(_Strict):
    """A regulatory constraint: tiers that must never apply to matching resources."""

    id: Id
    match: ResourceMatch
    forbid_tiers: Annotated[tuple[Tier, ...], Field(min_length=1)]
    description: str | None = None

    @field_validator("forbid_tiers")
    @classmethod
    def _not_deny(cls, v: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if Tier.DENY in v:
            raise ValueError("a regulation cannot forbid `deny`: deny is always allowed")
        return v


class FallbackFrom(_Strict):
    actions: ActionList

    _a = field_validator("actions")(classmethod(lambda cls, v: _check_actions(v)))


class FallbackTo(_Strict):
    actions: ActionList
    resources: ArnList = ("*",)

    _a = field_validator("actions")(classmethod(lambda cls, v: _check_actions(v)))
    _r = field_validator("resources")(classmethod(lambda cls, v: _check_arns(v)))


class Fallback(_Strict):
    """A pre-approved fallback: after `from` failed, this broader request gets `tier`."""

    id: Id
    from_: FallbackFrom = Field(alias="from")
    to: FallbackTo
    tier: Tier
    agents: tuple[Id | Literal["*"], ...] = ("*",)
    description: str | None = None


class Drift(_Strict):
    """Behaviour-drift watch (C8): the declared false-alarm rate (one per
    `false_alarm_one_per` decisions of an agent, all its signals together), the rise in
    each signal's share to detect, the baseline length, and the tier an agent's autonomy
    is demoted to when drift is found (until a human signs a review; none: flag only)."""

    false_alarm_one_per: int = Field(default=20_000, ge=100)
    shift: float = Field(default=0.10, gt=0.0, lt=0.5)
    baseline: int = Field(default=2_000, ge=20)
    demote_to: Tier | None = Tier.APPROVE


class Envelope(_Strict):
    """A complete policy envelope (`apiVersion: remit.dev/v1`, `kind: Envelope`)."""

    api_version: Literal["remit.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Envelope"]
    metadata: Metadata
    defaults: Defaults = Field(default_factory=Defaults)
    agents: dict[Id, Agent] = Field(default_factory=dict)
    workflows: dict[Id, Workflow] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    protected: tuple[Protected, ...] = ()
    regulations: tuple[Regulation, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    drift: Drift = Field(default_factory=Drift)
    inventory: tuple[TaggedResources, ...] = Field(
        default=(),
        description="Trusted resource tags. Protected sets and regulations that select by "
        "tag read them here; a resource no entry covers is assumed to carry every tag a set "
        "selects on (failing closed), and tags a request sends can only add to that.",
    )

    @model_validator(mode="after")
    def _references(self) -> Envelope:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{i}]: duplicate rule id {rule.id!r}")
            seen.add(rule.id)
            for a in rule.agents:
                if a != "*" and a not in self.agents:
                    raise ValueError(
                        f"rules[{i}] ({rule.id}): agent {a!r} is not declared under `agents`"
                    )
        for name, agent in self.agents.items():
            for wf in agent.workflows:
                if wf not in self.workflows:
                    raise ValueError(
                        f"agents.{name}: workflow {wf!r} is not declared under `workflows`"
                    )
        for kind, items in (
            ("protected", self.protected),
            ("regulations", self.regulations),
            ("fallbacks", self.fallbacks),
        ):
            ids = [x.id for x in items]
            dupes = sorted({x for x in ids if ids.count(x) > 1})
            if dupes:
                raise ValueError(f"{kind}: duplicate id(s) {', '.join(dupes)}")
        return self
