"""MCP proxy overhead: the added latency of `remit mcp proxy` per `tools/call`, against
calling the same upstream directly, in the same run.

One job: start the test world (moto, `remit serve` with the STS backend, an agent key; see
tests/mcp/mcpkit.py), then time `list_roles` on the real awslabs.iam-mcp-server three ways
with the `mcp` SDK's client: directly; through the proxy with `--credentials none` (an
autonomous decision and its outcome report per call); through the proxy with per-call
credentials (decision, STS grant, credentials served to the upstream, outcome and
revocation). The grant path is broken down by timing the same Remit calls (decide, grant,
outcome) with the SDK. Prints a table; writes benchmarks/results/mcp.json.

Usage::

    python benchmarks/bench_mcp.py              # 200 calls per path (grant: 50)
    python benchmarks/bench_mcp.py --calls 50   # quicker
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from tests.mcp.mcpkit import (  # noqa: E402
    FIND,
    IAM_SERVER,
    Served,
    _cli_env,
    meta,
    proxy_params,
    serve_world,
)

import remit  # noqa: E402
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402


class _Tmp:
    """The one method of pytest's TempPathFactory that serve_world uses."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-mcp-"))

    def mktemp(self, name: str) -> Path:
        p = self.root / name
        p.mkdir()
        return p


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def time_calls(params: StdioServerParameters, n: int, with_meta: bool) -> list[float]:
    out = []
    with open(Path(params.cwd or ".") / "bench-stderr.log", "a") as err:
        async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            m = meta(FIND) if with_meta else None
            for _ in range(5):  # warm up
                await s.call_tool("list_roles", {"max_items": 5}, meta=m)
            for _ in range(n):
                t0 = time.perf_counter()
                res = await s.call_tool("list_roles", {"max_items": 5}, meta=m)
                out.append((time.perf_counter() - t0) * 1000)
                if res.is_error:
                    raise SystemExit(f"call failed: {res.content}")
    return out


def direct_params(served: Served) -> StdioServerParameters:
    env = _cli_env()
    env.update(
        AWS_ENDPOINT_URL=served.world.moto.endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=served.world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=served.world.boot["remit_secret_access_key"],
    )
    return StdioServerParameters(
        command=IAM_SERVER[0], args=IAM_SERVER[1:], env=env, cwd=str(served.folder)
    )


def breakdown(served: Served, n: int) -> dict[str, list[float]]:
    """The Remit calls the grant path makes, timed with the SDK over real HTTP."""
    times: dict[str, list[float]] = {"decide": [], "grant": [], "outcome+revoke": []}
    reasoning = meta(FIND)["remit/reasoning"]
    with remit.Client(served.url, served.keys["bot"], agent="remediator") as c:
        for _ in range(n):
            t0 = time.perf_counter()
            d = c.decide("iam:ListRoles", ["*"], reasoning=reasoning,
                         provenance={"model": {"name": "claude-sonnet", "version": "2026-10-01"},
                                     **FIND})  # fmt: skip
            t1 = time.perf_counter()
            c.grant(d["id"])
            t2 = time.perf_counter()
            c.report_outcome(d["id"], "succeeded")
            t3 = time.perf_counter()
            times["decide"].append((t1 - t0) * 1000)
            times["grant"].append((t2 - t1) * 1000)
            times["outcome+revoke"].append((t3 - t2) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--grant-calls", type=int, default=50)
    args = ap.parse_args()
    gen = serve_world(_Tmp())  # type: ignore[arg-type]
    served = next(gen)
    try:
        rows: dict[str, list[float]] = {}
        rows["direct"] = anyio.run(time_calls, direct_params(served), args.calls, False)
        rows["proxy, no credentials"] = anyio.run(
            time_calls, proxy_params(served, "--credentials", "none"), args.calls, True
        )
        rows["proxy, per-call credentials"] = anyio.run(
            time_calls, proxy_params(served), args.grant_calls, True
        )
        parts = breakdown(served, args.grant_calls)
    finally:
        gen.close()
    base = statistics.median(rows["direct"])
    result: dict[str, Any] = {"calls": args.calls, "grant_calls": args.grant_calls, "paths": {}}
    print(f"{'path':32} {'p50 ms':>9} {'p99 ms':>9} {'added p50':>10} {'added p99':>10}")
    for name, xs in rows.items():
        p50, p99 = statistics.median(xs), pct(xs, 0.99)
        added50, added99 = p50 - base, p99 - pct(rows["direct"], 0.99)
        result["paths"][name] = {"p50_ms": p50, "p99_ms": p99, "added_p50_ms": added50,
                                 "added_p99_ms": added99}  # fmt: skip
        print(f"{name:32} {p50:9.2f} {p99:9.2f} {added50:10.2f} {added99:10.2f}")
    print("grant path, Remit calls alone (SDK over HTTP):")
    result["breakdown"] = {}
    for name, xs in parts.items():
        result["breakdown"][name] = {"p50_ms": statistics.median(xs), "p99_ms": pct(xs, 0.99)}
        print(f"  {name:30} {statistics.median(xs):9.2f} {pct(xs, 0.99):9.2f}")
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "mcp.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
