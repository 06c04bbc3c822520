"""The demo's last act: reconcile its own trail. moto has no CloudTrail, so the demo's
moto server records its requests and `remit.cloudtrail.moto_trail` turns them into
CloudTrail records (the local stand-in for delivery). Before that, the AI's execution role
is used once outside Remit (a session opened without asking), and the reconciliation
flags exactly that call, records the run on the ledger and prints the summary.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Final

import boto3
from rich.console import Console
from rich.table import Table

from remit.cloudtrail import moto_trail
from remit.cloudtrail.ingest import ingest
from remit.cloudtrail.reconcile import ai_principals, classify, export_rows, make_record
from remit.cloudtrail.store import TrailStore
from remit.demo.cloud import DemoCloud
from remit.domain.clock import utcnow
from remit.envelope import load_envelope
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore

RECORDING: Final = "moto_recording.ndjson"
FILES: Final = frozenset(
    {RECORDING, "cloudtrail.json.gz", "cloudtrail.duckdb", "cloudtrail.duckdb.wal"}
)
"""What this step leaves in the demo folder."""


def recording_env(workdir: Path) -> dict[str, str]:
    """The moto server's environment for recording into the demo folder. Recording
    starts when the demo asks (`moto_trail.start`), after the cloud is set up, whatever
    the caller's environment says."""
    return {
        "MOTO_RECORDER_FILEPATH": str((workdir / RECORDING).resolve()),
        "MOTO_ENABLE_RECORDING": "",
    }


def call_outside_remit(cloud: DemoCloud) -> None:
    """The AI role used without asking: a session of the execution role opened directly
    with the broker's keys, listing roles (the call reconciliation must flag)."""
    env = cloud.remit_env
    sts = boto3.client(
        "sts",
        endpoint_url=cloud.moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    creds = sts.assume_role(RoleArn=cloud.execution_role, RoleSessionName="outside-remit")
    c = creds["Credentials"]
    boto3.client(
        "iam",
        endpoint_url=cloud.moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    ).list_roles()


def reconcile_demo(console: Console, cloud: DemoCloud, workdir: Path, envelope: Path) -> bool:
    """Turn the recording into a trail, ingest it, reconcile, record the run; True when
    the one unexplained call is the only finding."""
    recording, state = moto_trail.fetch(cloud.moto.endpoint_url)
    records = moto_trail.to_records(recording, state)
    trail = workdir / "cloudtrail.json.gz"
    trail.write_bytes(gzip.compress(moto_trail.trail_document(records)))
    principals = ai_principals(load_envelope(envelope).envelope)
    store = SqliteStore(workdir / "remit.db")
    try:
        with TrailStore(workdir / "cloudtrail.duckdb") as trail_store:
            ingest([str(trail)], trail_store, utcnow(), lambda: None)
            outcome = classify(trail_store, export_rows(store.reads), principals, None, None)
        size = store.size()
        record = make_record(outcome, principals, None, None, size, store.root(size).hex(),
                             utcnow())  # fmt: skip
        index = store.append([make_entry(record, utcnow(), "demo")])[0]
    finally:
        store.close()
    console.print(
        f"\n[bold]CloudTrail reconciliation[/] of the demo's own {outcome.events} cloud calls "
        "(moto's recorded requests as CloudTrail: the local stand-in for delivery), "
        f"recorded as ledger entry #{index}:",
        soft_wrap=True,
    )
    table = Table()
    table.add_column("class")
    table.add_column("calls", justify="right")
    for name, n in outcome.counts.items():
        if n:
            table.add_row(name, str(n))
    console.print(table)
    for f in outcome.findings:
        console.print(f"  [bold red]{f['class']}[/]: {f['principal']} {f['why']}", soft_wrap=True)
    expected = [f for f in outcome.findings if f["action"] == "iam:ListRoles"]
    return len(outcome.findings) == 1 and len(expected) == 1 and outcome.counts["explained"] > 0
