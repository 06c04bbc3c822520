"""Every real dataset under ../shared/testdata/cloudtrail is ingested through the real
`remit cloudtrail ingest`, and what is stored matches a second, independent reader:
invictus (S3 delivery JSON), Stratus (JSON arrays), OTRF (Logstash NDJSON with
@timestamp) and Panther's 453 events (unwrapped by this test from the extraction's
`event` fields, 17 of which have no usable time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.cloudtrail.ctkit import Tally, run_json, second_reader, when
from tests.support.testdata import shared_testdata

DATASETS = {
    "invictus": ("invictus-aws_dataset", 55, 2900),
    "stratus": ("stratus-detonation-logs", 35, 310),
    "otrf": ("otrf-aws", 1, 103),
}


def trail(name: str) -> Path:
    return shared_testdata("cloudtrail", DATASETS[name][0], what="CloudTrail test data")


def panther_unwrapped(folder: Path) -> tuple[Path, list[dict[str, Any]]]:
    src = shared_testdata("cloudtrail", "panther", "panther_cloudtrail_rule_tests.json")
    tests = json.loads(src.read_text("utf-8"))
    events = [t["event"] for t in tests]
    out = folder / "panther_events.json"
    out.write_text(json.dumps(events), "utf-8")
    return out, events


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_dataset_is_stored_exactly_as_a_second_reader_counts_it(
    name: str, tmp_path: Path
) -> None:
    _, files, events = DATASETS[name]
    expected = second_reader(trail(name))
    assert expected.events == events and not expected.unusable  # the provenance's figures
    got = run_json("cloudtrail", "ingest", trail(name), "--format", "json",
                   "--trail-db", "t.duckdb", cwd=tmp_path)  # fmt: skip
    assert (got["files"], got["events"], got["new_events"]) == (files, events, events)
    assert got["rejected_records"] == [] and got["rejected_files"] == []
    skipped = {Path(p).name for p in got["skipped_files"]}
    assert "LICENSE" in skipped and not any(s.endswith(".json") for s in skipped)
    check_stats(tmp_path, expected)


def check_stats(cwd: Path, expected: Tally) -> None:
    stats = run_json("cloudtrail", "stats", "--format", "json", "--trail-db", "t.duckdb", cwd=cwd)
    assert stats["events"] == expected.events
    assert when(stats["first"]) == min(expected.times)
    assert when(stats["last"]) == max(expected.times)
    assert stats["errors"] == dict(expected.errors)
    by_arn = {p: n for p, n in stats["principals"].items() if p.startswith("arn:")}
    assert by_arn == dict(expected.arns)
    assert sum(stats["principals"].values()) == expected.events
    mapped = sum(stats["actions"].values()) + sum(stats["unmapped"].values())
    assert (
        mapped
        + stats["kinds"].get("signin", 0)
        + stats["kinds"].get("service", 0)
        + (stats["kinds"].get("console", 0))
        == expected.events
    )


def test_panther_events_unwrapped_store_all_with_a_usable_time(tmp_path: Path) -> None:
    path, events = panther_unwrapped(tmp_path)
    assert len(events) == 453
    expected = second_reader(path)
    assert expected.events == 436 and len(expected.unusable) == 17
    got = run_json("cloudtrail", "ingest", path, "--format", "json", "--trail-db", "t.duckdb",
                   cwd=tmp_path, code=2)  # fmt: skip
    assert (got["events"], got["new_events"]) == (436, 436)
    assert [r["record"] for r in got["rejected_records"]] == expected.unusable
    assert all(r["path"] == str(path) for r in got["rejected_records"])
    reasons = {r["reason"] for r in got["rejected_records"]}
    assert any("no event time" in r for r in reasons)
    assert any("'redacted'" in r for r in reasons)
    check_stats(tmp_path, expected)
    # Lambda's dated names in Panther's events map to the IAM action, not "unmapped".
    stats = run_json("cloudtrail", "stats", "--format", "json", "--trail-db", "t.duckdb",
                     cwd=tmp_path)  # fmt: skip
    dated = sum(n for k, n in expected.names.items()
                if k.startswith("lambda.amazonaws.com:UpdateFunctionConfiguration"))  # fmt: skip
    assert dated and stats["actions"]["lambda:UpdateFunctionConfiguration"] >= dated
    assert not any(k.startswith("lambda.") for k in stats["unmapped"])


def test_all_datasets_at_once_then_again_store_each_file_once(tmp_path: Path) -> None:
    root = shared_testdata("cloudtrail")
    path, _ = panther_unwrapped(tmp_path)
    args = ("cloudtrail", "ingest", root, path, "--format", "json", "--trail-db", "t.duckdb")
    first = run_json(*args, cwd=tmp_path, code=2)
    total = 2900 + 310 + 103 + 436
    assert (first["events"], first["new_events"]) == (total, total)
    # The raw Panther extraction is not a trail (its items wrap events): rejected whole.
    assert [Path(r["path"]).name for r in first["rejected_files"]] == [
        "panther_cloudtrail_rule_tests.json"
    ]
    again = run_json(*args, cwd=tmp_path, code=2)
    assert (again["events"], again["new_events"]) == (total, 0)
    assert len(again["duplicate_files"]) == 55 + 35 + 1 + 1
    stats = run_json("cloudtrail", "stats", "--format", "json", "--trail-db", "t.duckdb",
                     cwd=tmp_path)  # fmt: skip
    assert stats["events"] == total
