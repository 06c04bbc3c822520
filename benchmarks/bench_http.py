"""HTTP benchmark (issue 4): `POST /v1/decisions` over loopback with concurrent clients,
against a bare FastAPI endpoint on the same server settings returning a fixed body, in the
same run. Reports decisions/s, p50/p99 latency, the ratio to the bare endpoint, and p99
at 70% of the measured peak — on SQLite and on PostgreSQL.

Run: `.venv/bin/python benchmarks/bench_http.py [--seconds 10] [--concurrency 32]`.

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

import httpx
import psycopg
from rich.console import Console
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


def measure(
    name: str, args: list[str], key: str, body: Path, a: argparse.Namespace, folder: Path
) -> dict:
    port = free_port()
    remit = start(
        [PY, "-m", "remit.cli", "serve", *args, "--port", str(port)],
        port,
        "/readyz",
        folder / f"{name}.log",
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/decisions"
        hdr = f"Authorization: Bearer {key}"
        drive(url, body, hdr, 2, a.concurrency)  # warm-up
        top = drive(url, body, hdr, a.seconds, a.concurrency)
        at70 = drive(url, body, hdr, a.seconds, a.concurrency, rate=0.7 * top["rps"])
    finally:
        remit.terminate()
        remit.wait(10)
    return {"peak": top, "at70": at70}


def measure_bare(body: Path, a: argparse.Namespace, folder: Path) -> dict:
    """The bare FastAPI endpoint's closed-loop peak (after a warm-up)."""
    port = free_port()
    bare = start(
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
    try:
        url = f"http://127.0.0.1:{port}/v1/decisions"
        drive(url, body, None, 2, a.concurrency)
        return drive(url, body, None, a.seconds, a.concurrency)
    finally:
        bare.terminate()
        bare.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--skip-postgres", action="store_true")
    a = ap.parse_args()
    results: dict[str, object] = {"seconds": a.seconds, "concurrency": a.concurrency}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        body = folder / "request.json"
        shutil.copy(ROOT / "examples" / "request.json", body)
        runs = [measure_bare(body, a, folder)]
        args, key = setup(folder, str(folder / "remit.db"))
        results["sqlite"] = measure("sqlite", args, key, body, a, folder)
        if not a.skip_postgres:
            name = "remit_bench_" + uuid.uuid4().hex[:8]
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                pg_folder = folder / "pg"
                pg_folder.mkdir()
                args, key = setup(pg_folder, PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
                results["postgres"] = measure("postgres", args, key, body, a, folder)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # The bare endpoint again after Remit, so a machine that got slower or faster
        # during the run moves both sides of the ratio alike; the ratio uses the mean.
        runs.append(measure_bare(body, a, folder))
        results["bare_runs"] = runs
        results["bare"] = {
            **runs[0],
            "rps": sum(r["rps"] for r in runs) / len(runs),
            "p50_ms": sum(r["p50_ms"] for r in runs) / len(runs),
            "p99_ms": sum(r["p99_ms"] for r in runs) / len(runs),
            "errors": sum(r["errors"] for r in runs),
        }
    bare_rps = results["bare"]["rps"]  # type: ignore[index]
    t = Table(
        title=f"POST /v1/decisions over loopback ({a.concurrency} clients, {a.seconds:.0f} s per "
        f"run; load from {results['bare']['generator']})"
    )
    for col in (
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio to bare (≥ 0.4)",
        "p99 at 70% of peak (< 25 ms)",
        "errors",
    ):
        t.add_column(col)
    b = results["bare"]
    t.add_row(
        "bare FastAPI endpoint (mean of the runs before and after Remit: "
        + " and ".join(f"{r['rps']:,.0f}" for r in results["bare_runs"])  # type: ignore[attr-defined]
        + ")",
        f"{b['rps']:,.0f}",
        f"{b['p50_ms']:.1f}",
        f"{b['p99_ms']:.1f}",
        "1.00",
        "—",
        str(b["errors"]),
    )
    for store in ("sqlite", "postgres"):
        if store in results:
            r = results[store]
            p, s = r["peak"], r["at70"]
            t.add_row(
                f"remit ({store}, durable)",
                f"{p['rps']:,.0f}",
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                f"{p['rps'] / bare_rps:.2f}",
                f"{s['p99_ms']:.1f} at {s['rps']:,.0f}/s",
                str(p["errors"] + s["errors"]),
            )
    console.print(t)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
