"""HTTP benchmark (issue 4): `POST /v1/decisions` over loopback with concurrent clients,
against a bare FastAPI endpoint on the same server settings returning a fixed body, in the
same run. Reports decisions/s, p50/p99 latency, the ratio to the bare endpoint, and p99
at 70% of the measured peak — on SQLite and on PostgreSQL.

Run: `.venv/bin/python benchmarks/bench_http.py [--rounds 5] [--seconds 5] [--concurrency 32]`.

The three servers run side by side (only the one under load does any work) and are
measured in rounds: one closed-loop run of each per round, the order rotated from round
to round. Each round's ratio compares runs seconds apart, and the table gives the median
of the rounds' ratios with their range. On a shared VM whose speed drifts by ±20% within
minutes, one long run per server, minutes apart, moved the same code's ratio from 0.27 to
0.46 (docs/benchmarks.md, sessions 12 and 13).

Load comes from another process: `wrk` (Debian package `wrk`) when it is installed, else
the Python load generator (benchmarks/http/loadgen.py); the table says which. wrk costs
~25 µs of CPU per request where the Python generator costs ~70 µs, and on a 2-core
machine every µs the generator takes is a µs neither server gets. Both the closed-loop
peak and the paced run at 70% of it use the same generator, so the paced run does not
load the machine more than its rate says. wrk paces through its Lua `delay()` hook: each
request takes the next slot of a fixed schedule (slots missed while every connection
was busy are sent at once, as the Python pacer does), and latency is timed from the
moment a request is written, in both generators.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from remit.aws.moto_server import free_port  # noqa: E402
from remit.envelope import load_envelope  # noqa: E402
from remit.envelope.signoff import append_signoff, create_signoff, signoffs_path  # noqa: E402
from remit.identity.model import Role  # noqa: E402
from remit.identity.store import KeyStore  # noqa: E402
from remit.ledger.open import open_store  # noqa: E402
from remit.signing.keys import generate_signing_key, write_key_pair  # noqa: E402

PY = sys.executable
LOADGEN = str(Path(__file__).parent / "http" / "loadgen.py")
PG_ADMIN = "postgresql://127.0.0.1:5432/test"
console = Console()
if not console.is_terminal:  # piped to a file or a CI log: do not squeeze the table
    console = Console(width=150)


def start(cmd: list[str], port: int, ready: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (
                httpx.request(
                    "GET" if ready != "/v1/decisions" else "POST",
                    f"http://127.0.0.1:{port}{ready}",
                    timeout=1,
                ).status_code
                < 500
            ):
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start; see {log}")


def load(
    url: str, body: Path, header: str | None, seconds: float, conc: int, rate: float | None = None
) -> dict:
    cmd = [
        PY,
        LOADGEN,
        url,
        "--body",
        str(body),
        "--concurrency",
        str(conc),
        "--seconds",
        str(seconds),
    ]
    if header:
        cmd += ["--header", header]
    if rate:
        cmd += ["--rate", str(rate)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"failed":%d,"non_2xx":%d,"seconds":%f,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
"""


# Pacing for wrk's one thread: `delay()` is asked before each request and returns whole
# milliseconds to wait; each request takes the next slot of a schedule `interval` ms apart.
WRK_PACE = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pace_timespec;
int clock_gettime(int clock_id, pace_timespec *tp);
]]
local ts = ffi.new("pace_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local interval = %f
local due = nil
delay = function()
  local t = now_ms()
  due = (due or t) + interval
  if due - t < 1 then return 0 end
  return math.floor(due - t)
end
"""


def load_wrk(
    url: str, body: Path, header: str | None, seconds: float, conc: int, rate: float | None
) -> dict:
    """A run with wrk (one thread, `conc` connections): closed-loop, or paced at `rate`/s."""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [==[{body.read_text()}]==]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if header:
        name, _, value = header.partition(": ")
        lines.append(f'wrk.headers["{name}"] = "{value}"')
    if rate:
        lines.append(WRK_PACE % (1000 / rate))
    script = body.with_suffix(".lua")
    script.write_text("\n".join(lines) + WRK_REPORT)
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{seconds:.0f}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {
        "requests": r["requests"],
        "errors": r["failed"] + r["non_2xx"],
        "seconds": r["seconds"],
        "rps": r["requests"] / r["seconds"],
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "generator": "wrk",
    }


def drive(
    url: str, body: Path, header: str | None, seconds: float, conc: int, rate: float | None = None
) -> dict:
    """A closed-loop run, or one paced at `rate`/s: wrk when installed, else the Python
    generator."""
    if shutil.which("wrk"):
        return load_wrk(url, body, header, seconds, conc, rate)
    return {**load(url, body, header, seconds, conc, rate), "generator": "python"}


def setup(folder: Path, db: str) -> tuple[list[str], str]:
    env = folder / "envelope.yaml"
    shutil.copy(ROOT / "examples" / "envelope.yaml", env)
    ciso = generate_signing_key("ciso.bench")
    write_key_pair(folder / f"ciso-{uuid.uuid4().hex[:6]}", ciso)
    pub = next(folder.glob("ciso-*.pub"))
    append_signoff(
        signoffs_path(env),
        create_signoff(
            load_envelope(env), ciso, "c@x", "CISO", datetime.now(UTC) - timedelta(days=1)
        ),
    )
    store = open_store(db)
    _, key = KeyStore(store).create(
        "bench-agent", Role.AGENT, "remediator", datetime.now(UTC), "bench-setup"
    )
    store.close()
    return ["--envelope", str(env), "--trusted-keys", str(pub), "--db", db], key


def start_remit(name: str, args: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = start(
        [PY, "-m", "remit.cli", "serve", *args, "--port", str(port)],
        port,
        "/readyz",
        folder / f"{name}.log",
    )
    return proc, f"http://127.0.0.1:{port}/v1/decisions"


def start_bare(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = start(
        [
            PY,
            "-m",
            "uvicorn",
            "benchmarks.http.bare_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        port,
        "/v1/decisions",
        folder / "bare.log",
    )
    return proc, f"http://127.0.0.1:{port}/v1/decisions"


def stop(procs: dict[str, subprocess.Popen[bytes]], name: str) -> None:
    """Stops server `name` if it still runs."""
    proc = procs.pop(name, None)
    if proc is not None:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5, help="seconds per closed-loop run")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of one run per server")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--skip-postgres", action="store_true")
    a = ap.parse_args()
    if a.rounds < 1 or a.seconds < 1:
        ap.error("--rounds and --seconds must be at least 1")
    results: dict[str, Any] = {
        "seconds": a.seconds,
        "rounds": a.rounds,
        "concurrency": a.concurrency,
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    databases: list[str] = []  # PostgreSQL databases made for the run, dropped at the end
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        body = folder / "request.json"
        shutil.copy(ROOT / "examples" / "request.json", body)
        targets: dict[str, tuple[str, str | None]] = {}  # name: (url, header)

        def start_store(name: str, folder: Path) -> tuple[str, str]:
            """A Remit service on a new ledger of store `name`: its URL and key header."""
            folder.mkdir()
            if name == "sqlite":
                db = str(folder / "remit.db")
            else:
                databases.append("remit_bench_" + uuid.uuid4().hex[:8])
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{databases[-1]}"')
                db = PG_ADMIN.rsplit("/", 1)[0] + "/" + databases[-1]
            args, key = setup(folder, db)
            procs[name], url = start_remit(name, args, folder)
            return url, f"Authorization: Bearer {key}"

        try:
            procs["bare"], url = start_bare(folder)
            targets["bare"] = (url, None)
            for n in ("sqlite",) if a.skip_postgres else ("sqlite", "postgres"):
                targets[n] = start_store(n, folder / n)
            names = list(targets)
            runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("warm-up, then rounds", total=len(names) * (a.rounds + 1))
                for n in names:  # warm-up: first connections, caches, the writer's start
                    url, header = targets[n]
                    drive(url, body, header, 2, a.concurrency)
                    progress.advance(task)
                for i in range(a.rounds):
                    # Every server once per round, the order rotated: each ratio compares
                    # runs a few seconds apart, whatever the machine's speed does meanwhile.
                    for n in names[i % len(names) :] + names[: i % len(names)]:
                        url, header = targets[n]
                        runs[n].append(drive(url, body, header, a.seconds, a.concurrency))
                        progress.advance(task)
            for n in names:
                results[n] = {"runs": runs[n]}
                stop(procs, n)
            # The paced runs measure a tail, each on a service of its own on a new ledger
            # (as before session 13): the others' background work (about 2% of a core each,
            # in bursts) is not in it, nor the minutes of ledger the rounds left behind.
            for n in names[1:]:
                ratios = [r["rps"] / b["rps"] for r, b in zip(runs[n], runs["bare"], strict=True)]
                results[n]["ratios"] = ratios
                peak = median([r["rps"] for r in runs[n]])
                url, header = start_store(n, folder / f"{n}-paced")
                drive(url, body, header, 2, a.concurrency)
                results[n]["at70"] = drive(url, body, header, 10, a.concurrency, rate=0.7 * peak)
                stop(procs, n)
        finally:
            for n in list(procs):
                stop(procs, n)
            for name in databases:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    generator = results["bare"]["runs"][0]["generator"]
    t = Table(
        title=f"POST /v1/decisions over loopback ({a.concurrency} clients; {a.rounds} rounds of "
        f"one {a.seconds:.0f} s run per server, order rotated; load from {generator})"
    )
    for col in (
        "server",
        "req/s (median)",
        "p50 ms",
        "p99 ms",
        "ratio to bare (≥ 0.4): median of the rounds (range)",
        "p99 at 70% of peak (< 25 ms)",
        "errors",
    ):
        t.add_column(col)
    for n in ("bare", "sqlite", "postgres"):
        if n not in results:
            continue
        r = results[n]
        rps = [x["rps"] for x in r["runs"]]
        label = "bare FastAPI endpoint" if n == "bare" else f"remit ({n}, durable)"
        ratio = "1.00"
        at70 = "—"
        errors = sum(x["errors"] for x in r["runs"])
        if n != "bare":
            q = r["ratios"]
            ratio = f"{median(q):.2f} ({min(q):.2f}–{max(q):.2f})"
            s = r["at70"]
            at70 = f"{s['p99_ms']:.1f} at {s['rps']:,.0f}/s"
            errors += s["errors"]
        t.add_row(
            label,
            f"{median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f})",
            f"{median([x['p50_ms'] for x in r['runs']]):.1f}",
            f"{median([x['p99_ms'] for x in r['runs']]):.1f}",
            ratio,
            at70,
            str(errors),
        )
    console.print(t)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
