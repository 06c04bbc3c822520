"""Custodian policies through c7n's Python API: load and validate a policy file, run each
policy in dry-run (`dryrun=True`, `cache_period=0`) to find the resources it would act on,
and act on a chosen batch with a given session factory (c7n's own action classes).

It is the only module that imports c7n. What it does not do: ask Remit, choose batches or
decide what runs (the runner does).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class PolicyFileError(ValueError):
    """The policy file cannot be read, parsed or validated, or asks for what a governed
    run cannot do (a mode other than pull); nothing was run."""


class C7nMissing(RuntimeError):
    """The `custodian` extra (c7n) is not installed."""


class AwsUnreachable(RuntimeError):
    """AWS could not be reached (or refused the runner's own credentials) during the
    dry-run; nothing was acted on."""


@dataclass
class Found:
    """One policy after its dry-run: the c7n policy object, the resources its filters
    matched, their ARNs (same order) and the actions it declares (policy data)."""

    name: str
    resource_type: str
    policy: Any
    resources: list[dict[str, Any]]
    arns: list[str]
    actions: list[dict[str, Any]]

    @property
    def description(self) -> str:
        return str(self.policy.data.get("description") or "")


def c7n_version() -> str:
    from c7n.version import version

    return str(version)


def load(path: Path, region: str, account_id: str | None = None) -> list[Any]:
    """The validated c7n policies of `path`, configured for a dry-run with no cache."""
    try:
        from c7n.config import Config
        from c7n.exceptions import PolicyValidationError
        from c7n.loader import PolicyLoader
    except ImportError as exc:  # the custodian extra is not installed
        raise C7nMissing(
            "c7n (Cloud Custodian) is not installed: pip install 'remit[custodian]'"
        ) from exc
    import yaml

    if not path.is_file():
        raise PolicyFileError(f"{path}: no such policy file")
    out = tempfile.mkdtemp(prefix="remit-custodian-")
    cfg = Config.empty(
        dryrun=True,
        cache_period=0,
        cache="",
        output_dir=out,
        region=region,
        regions=[region],
        account_id=account_id,
    )
    try:
        collection = PolicyLoader(cfg).load_file(str(path))
        policies = list(collection)
        if not policies:
            raise PolicyFileError(f"{path}: no policies")
        for p in policies:
            p.validate()
            mode = (p.data.get("mode") or {}).get("type", "pull")
            if mode != "pull":
                raise PolicyFileError(
                    f"{path}: policy {p.name!r} has mode {mode!r}; a governed run takes "
                    "pull-mode policies only"
                )
            actions = p.data.get("actions") or []
            for a in actions:
                if not isinstance(a, dict | str):
                    raise PolicyFileError(f"{path}: policy {p.name!r}: bad action {a!r}")
    except PolicyValidationError as exc:
        raise PolicyFileError(f"{path}: {exc}".strip()) from exc
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{path}: not YAML: {exc}") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, PolicyFileError):
            raise
        raise PolicyFileError(f"{path}: malformed policy file: {exc!r}") from exc
    return policies


def action_data(action: dict[str, Any] | str) -> dict[str, Any]:
    """A policy action as data (`stop` is `{"type": "stop"}`)."""
    return {"type": action} if isinstance(action, str) else dict(action)


def dry_run(policies: Sequence[Any]) -> list[Found]:
    """Each policy's matched resources, found with the runner's own credentials, acting on
    nothing. AWS errors raise `AwsUnreachable`."""
    out = []
    logging.getLogger("custodian").setLevel(logging.WARNING)
    for p in policies:
        try:
            resources = list(p.run() or [])
            arns = list(p.resource_manager.get_arns(resources)) if resources else []
        except (BotoCoreError, ClientError) as exc:
            raise AwsUnreachable(f"dry-run of policy {p.name!r}: {exc}") from exc
        actions = [action_data(a) for a in p.data.get("actions") or []]
        out.append(Found(p.name, p.resource_type, p, resources, arns, actions))
    return out


def act(
    found: Found,
    index: int,
    resources: Sequence[dict[str, Any]],
    session_factory: Callable[..., Any],
) -> None:
    """Run the policy's action number `index` (c7n's own action class) on `resources`,
    every AWS call going through `session_factory`. Raises what the action raises."""
    from c7n.utils import reset_session_cache

    manager = found.policy.resource_manager
    action = manager.actions[index]
    saved = manager.session_factory
    reset_session_cache()  # c7n caches sessions per thread and region: never reuse one
    manager.session_factory = session_factory
    try:
        action.process(list(resources))
    finally:
        manager.session_factory = saved
        reset_session_cache()


def _iam_reads(found: Found, what: str, call: Callable[[Any], list[str]]) -> list[str]:
    from c7n.utils import local_session

    client = local_session(found.policy.resource_manager.session_factory).client("iam")
    try:
        return call(client)
    except (BotoCoreError, ClientError) as exc:
        raise AwsUnreachable(f"reading {what}: {exc}") from exc


def instance_profiles(found: Found, resources: Sequence[dict[str, Any]]) -> list[str]:
    """The ARNs of the instance profiles the IAM roles `resources` are in (read with the
    runner's own credentials, like the dry-run)."""

    def read(client: Any) -> list[str]:
        arns: list[str] = []
        for r in resources:
            page = client.list_instance_profiles_for_role(RoleName=r["RoleName"])
            arns += [ip["Arn"] for ip in page.get("InstanceProfiles", [])]
        return arns

    return _iam_reads(found, "instance profiles", read)


def attached_policies(found: Found, role: dict[str, Any]) -> list[str]:
    """The ARNs of the managed policies attached to `role` (the runner's credentials)."""

    def read(client: Any) -> list[str]:
        page = client.list_attached_role_policies(RoleName=role["RoleName"])
        return [str(p["PolicyArn"]) for p in page.get("AttachedPolicies", [])]

    return _iam_reads(found, f"the policies attached to {role['RoleName']}", read)


def inline_policies(found: Found, role: dict[str, Any]) -> list[str]:
    """The names of `role`'s inline policies (the runner's credentials)."""

    def read(client: Any) -> list[str]:
        page = client.list_role_policies(RoleName=role["RoleName"])
        return [str(n) for n in page.get("PolicyNames", [])]

    return _iam_reads(found, f"the inline policies of {role['RoleName']}", read)


def policy_arn(found: Found, arn: str) -> str:
    """The managed policy ARN an action's `arn` option names, as c7n resolves it (a bare
    name is a policy of the policy's account)."""
    if arn.startswith("arn"):
        return arn
    from c7n.utils import get_partition

    manager = found.policy.resource_manager
    return f"arn:{get_partition(manager.config.region)}:iam::{manager.account_id}:policy/{arn}"
