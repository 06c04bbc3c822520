"""Helpers for the CloudTrail tests: run the real `remit` executable, and a second,
independent reader of trail files (stdlib json/gzip, a regex for times) whose counts the
code under test must match."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.cli.clikit import ok, remit

__all__ = ["Tally", "ok", "remit", "run_json", "second_reader", "when"]

TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def run_json(*args: str | Path, cwd: Path, code: int = 0) -> Any:
    return json.loads(ok(remit(*args, cwd=cwd), code).stdout)


def when(text: str) -> datetime:
    """A time as the CLI prints it (or as a trail writes it), to compare instants."""
    m = TIME.match(text)
    assert m, text
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


class Tally:
    """What the second reader found: usable records, the positions of unusable ones,
    and counts over the usable ones."""

    def __init__(self) -> None:
        self.events = 0
        self.unusable: list[int] = []
        self.times: list[datetime] = []
        self.errors: Counter[str] = Counter()
        self.arns: Counter[str] = Counter()
        self.names: Counter[str] = Counter()

    def add(self, position: int, record: Any) -> None:
        if not isinstance(record, dict):
            self.unusable.append(position)
            return
        t = record.get("eventTime", record.get("@timestamp"))
        m = TIME.match(t) if isinstance(t, str) else None
        if m is None:
            self.unusable.append(position)
            return
        self.events += 1
        self.times.append(when(t))
        if record.get("errorCode"):
            self.errors[record["errorCode"]] += 1
        arn = (record.get("userIdentity") or {}).get("arn")
        if arn:
            self.arns[arn] += 1
        self.names[f"{record.get('eventSource')}:{record.get('eventName')}"] += 1


def second_reader(path: Path, tally: Tally | None = None) -> Tally:
    """Read every trail file under `path` without any of Remit's code."""
    tally = tally or Tally()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.json*"))
    for f in files:
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        text = data.decode()
        try:
            doc = json.loads(text)
            records = doc["Records"] if isinstance(doc, dict) else doc
        except json.JSONDecodeError:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        for i, r in enumerate(records, start=1):
            tally.add(i, r)
    return tally
