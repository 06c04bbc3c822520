"""`remit cloudtrail ingest` on what real trails contain and on bad input: every format
(plain and gzipped delivery JSON, arrays, NDJSON with @timestamp, a single event),
lower-cased names, time formats, missing or repeated eventIDs, empty identities; bad
records reported with file and number while the rest is stored; unreadable files stored
not at all; non-trail files in folders skipped; a missing path, a 2 GB file, an
impossible time; idempotence by content; S3 through the local moto server."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.cloudtrail.ctkit import ok, remit, run_json

from remit.aws import MotoServer


def ev(n: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventTime": f"2026-11-10T12:{n % 60:02d}:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventID": f"id-{n}",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA1",
                         "arn": "arn:aws:iam::111122223333:user/u", "accessKeyId": "AKIA1"},
        "requestParameters": {"bucketName": "b", "key": f"k{n}"},
    }  # fmt: skip
    base.update(extra)
    return base


def ingest(cwd: Path, *paths: str | Path, code: int = 0) -> Any:
    return run_json("cloudtrail", "ingest", *paths, "--format", "json", "--trail-db", "t.duckdb",
                    cwd=cwd, code=code)  # fmt: skip


def rows(cwd: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(cwd / "t.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_format_and_what_real_trails_contain(tmp_path: Path) -> None:
    d = tmp_path / "trail"
    d.mkdir()
    (d / "delivery.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [ev(1), ev(2)]}).encode())
    )
    (d / "array.json").write_text(json.dumps([ev(3), ev(4, eventID=None)]))
    lower = {k.lower(): v for k, v in ev(5).items()}
    lower["useridentity"] = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    stash = dict(ev(6))
    stash["@timestamp"] = stash.pop("eventTime").replace("Z", ".123Z")
    lines = [json.dumps(lower), json.dumps(stash),
             json.dumps(ev(7, eventTime="2026-11-10 12:07:00.000000000", userIdentity={})),
             json.dumps(ev(8, eventTime=1794312480000)),  # epoch milliseconds
             json.dumps(ev(9, eventID="id-1", userIdentity={"type": "AssumedRole",
                        "accessKeyId": "", "arn": "arn:aws:sts::1:assumed-role/r/s"})),
             json.dumps({k: v for k, v in ev(10, eventType="AwsServiceEvent").items()
                         if k != "userIdentity"})]  # fmt: skip
    (d / "logstash.ndjson").write_text("\n".join(lines) + "\n")
    (d / "single.json").write_text(json.dumps(ev(11)))
    (d / "README.md").write_text("# not a trail\n")
    (d / "LICENSE").write_text("MIT\n")
    got = ingest(tmp_path, d)
    assert (got["files"], got["events"], got["new_events"]) == (4, 11, 11)
    assert sorted(Path(p).name for p in got["skipped_files"]) == ["LICENSE", "README.md"]
    stored = dict(rows(tmp_path, "SELECT event_id, count(*) FROM events GROUP BY 1"))
    assert stored["id-1"] == 2  # a repeated eventID is two events, not one
    assert stored[None] == 1
    by_name = dict(rows(tmp_path, "SELECT principal, count(*) FROM events GROUP BY 1"))
    assert by_name["AWSService:ec2.amazonaws.com"] == 1
    assert by_name["unknown"] == 2  # an empty userIdentity, and none at all
    times = [r[0].isoformat() for r in rows(tmp_path, "SELECT event_time FROM events "
                                            "WHERE event_id IN ('id-6','id-7','id-8') "
                                            "ORDER BY event_id")]  # fmt: skip
    assert times == ["2026-11-10T12:06:00.123000+00:00", "2026-11-10T12:07:00+00:00",
                     "2026-11-10T12:08:00+00:00"]  # fmt: skip
    assert rows(tmp_path, "SELECT access_key_id FROM events WHERE event_name = 'GetObject' "
                "AND principal LIKE '%assumed-role%'") == [(None,)]  # fmt: skip
    kinds = dict(rows(tmp_path, "SELECT kind, count(*) FROM events GROUP BY 1"))
    assert kinds == {"api": 10, "service": 1}


def test_bad_records_are_reported_and_the_rest_of_the_file_stored(tmp_path: Path) -> None:
    f = tmp_path / "mixed.json"
    f.write_text(json.dumps({"Records": [ev(1), "not an object", ev(2, eventTime="2026-02-30T"
                 "00:00:00Z"), ev(3, eventTime=None), ev(4, eventTime="1970-01-01T00:00:00Z"),
                 {"foo": 1}, ev(5)]}))  # fmt: skip
    nd = tmp_path / "mixed.ndjson"
    nd.write_text(json.dumps(ev(6)) + "\n{truncated\n" + json.dumps(ev(7)) + "\n")
    got = ingest(tmp_path, f, nd, code=2)
    assert (got["events"], got["new_events"]) == (4, 4)
    assert [(Path(r["path"]).name, r["record"]) for r in got["rejected_records"]] == [
        ("mixed.json", 2), ("mixed.json", 3), ("mixed.json", 4), ("mixed.json", 5),
        ("mixed.json", 6), ("mixed.ndjson", 2)]  # fmt: skip
    reasons = [r["reason"] for r in got["rejected_records"]]
    assert "not a string" in reasons[0] and "JSON object" in reasons[0]
    assert "2026-02-30" in reasons[1]
    assert "no event time" in reasons[2]
    assert "impossible" in reasons[3]
    assert "not a CloudTrail event" in reasons[4]
    assert "not JSON" in reasons[5]
    assert got["rejected_files"] == []


def test_unreadable_files_are_rejected_whole_and_nothing_of_them_stored(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"Records": [ev(1)]}))
    whole = gzip.compress(json.dumps({"Records": [ev(n) for n in range(50)]}).encode())
    (tmp_path / "cut.json.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "prose.json").write_text("this is not json\nnor this\n")
    (tmp_path / "other.json").write_text(json.dumps({"name": "package", "version": 1}))
    (tmp_path / "numbers.json").write_text(json.dumps([1, 2, 3]))
    (tmp_path / "empty.json").write_text("")
    names = ["cut.json.gz", "prose.json", "other.json", "numbers.json", "empty.json"]
    got = ingest(tmp_path, good, *(tmp_path / n for n in names), code=2)
    assert (got["events"], got["new_events"]) == (1, 1)
    rejected = {Path(r["path"]).name: r["reason"] for r in got["rejected_files"]}
    assert sorted(rejected) == sorted(names)
    assert "truncated" in rejected["cut.json.gz"]
    assert "not JSON" in rejected["prose.json"]
    assert "not a CloudTrail file" in rejected["other.json"]
    assert all("record" not in r for r in got["rejected_files"])
    assert rows(tmp_path, "SELECT count(*) FROM events") == [(1,)]
    assert rows(tmp_path, "SELECT path FROM files") == [(str(good),)]


def test_a_missing_path_or_a_huge_file_writes_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"Records": [ev(1)]}))
    proc = ok(remit("cloudtrail", "ingest", good, tmp_path / "nope", "--trail-db", "t.duckdb",
                    cwd=tmp_path), 2)  # fmt: skip
    assert "nope: no such file or folder" in proc.stderr
    assert not (tmp_path / "t.duckdb").exists()  # paths are checked before the store opens
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:  # sparse: 2 GB on paper, nothing on disk
        fh.truncate(2 * 1024**3)
    got = ingest(tmp_path, huge, code=2)
    assert got["rejected_files"][0]["path"] == str(huge)
    assert "larger than" in got["rejected_files"][0]["reason"]


def test_the_same_content_is_stored_once_whatever_its_name(tmp_path: Path) -> None:
    body = json.dumps({"Records": [ev(1), ev(2), ev(1)]}).encode()  # ev(1) twice: two events
    (tmp_path / "a.json").write_bytes(body)
    (tmp_path / "copy.json.gz").write_bytes(gzip.compress(body))
    first = ingest(tmp_path, tmp_path / "a.json")
    assert (first["events"], first["new_events"]) == (3, 3)
    again = ingest(tmp_path, tmp_path / "a.json", tmp_path / "copy.json.gz")
    assert (again["events"], again["new_events"]) == (6, 0)
    assert len(again["duplicate_files"]) == 2
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT event_key) FROM events") == [(3, 3)]


def test_table_output_and_progress_go_where_they_belong(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([ev(1)]))
    proc = ok(remit("cloudtrail", "ingest", "a.json", "--trail-db", "t.duckdb", cwd=tmp_path))
    assert "1 file(s), 1 event(s), 1 new" in proc.stdout
    proc = ok(remit("cloudtrail", "stats", "--trail-db", "t.duckdb", cwd=tmp_path))
    assert "arn:aws:iam::111122223333:user/u" in proc.stdout and "s3:GetObject" in proc.stdout
    proc = ok(remit("cloudtrail", "stats", "--trail-db", "none.duckdb", cwd=tmp_path), 2)
    assert "no trail store" in proc.stderr


@pytest.fixture(scope="module")
def moto() -> Any:
    with MotoServer() as server:
        yield server


def test_s3_prefixes_are_ingested_through_boto3(moto: MotoServer, tmp_path: Path) -> None:
    s3 = moto.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/10/"
    s3.put_object(
        Bucket="trail",
        Key=key + "a.json.gz",
        Body=gzip.compress(json.dumps({"Records": [ev(1), ev(2)]}).encode()),
    )
    s3.put_object(Bucket="trail", Key=key + "b.json", Body=json.dumps({"Records": [ev(3)]}))
    s3.put_object(Bucket="trail", Key=key + "cut.json.gz", Body=b"\x1f\x8b\x08\x00")
    s3.put_object(Bucket="trail", Key="AWSLogs/README.txt", Body=b"hello")  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    env.pop("AWS_ENDPOINT_URL", None)
    args = ["cloudtrail", "ingest", "s3://trail/AWSLogs/", "--endpoint-url", moto.endpoint_url,
            "--format", "json", "--trail-db", "t.duckdb"]  # fmt: skip
    got = json.loads(ok(remit(*args, cwd=tmp_path, env=env), 2).stdout)
    assert (got["files"], got["events"], got["new_events"]) == (2, 3, 3)
    assert got["skipped_files"] == ["s3://trail/AWSLogs/README.txt"]
    assert got["rejected_files"][0]["path"] == f"s3://trail/{key}cut.json.gz"
    missing = ["cloudtrail", "ingest", "s3://no-such-bucket/x", "--endpoint-url",
               moto.endpoint_url, "--trail-db", "t.duckdb"]  # fmt: skip
    proc = ok(remit(*missing, cwd=tmp_path, env=env), 2)
    assert "no-such-bucket" in proc.stderr and "NoSuchBucket" in proc.stderr
    assert rows(tmp_path, "SELECT count(*) FROM events") == [(3,)]


def test_a_progress_bar_on_a_terminal_and_clean_json_on_stdout(tmp_path: Path) -> None:
    """With stderr a terminal the bar is drawn there; stdout (JSON) stays parseable."""
    import pty
    import subprocess

    from tests.cli.clikit import REMIT, cli_env

    for n in range(30):
        (tmp_path / f"f{n}.json").write_text(json.dumps({"Records": [ev(n)]}))
    leader, follower = pty.openpty()
    env = {**cli_env(), "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.run(
        [str(REMIT), "cloudtrail", "ingest", str(tmp_path), "--format", "json",
         "--trail-db", str(tmp_path / "t.duckdb")],
        stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120, check=False,
    )  # fmt: skip
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["new_events"] == 30
    assert b"ingesting" in drawn and b"files" in drawn
