"""MCP proxy overhead: the added latency of `remit mcp proxy` per `tools/call`, against
calling the same upstream directly, in the same run.

One job: start the test world (moto, `remit serve` with the STS backend over SQLite, an
agent key; see tests/mcp/mcpkit.py), then, with the `mcp` SDK's client, open a session to
the upstream directly and one to the same upstream through the proxy, and **interleave**
them: call i goes direct-then-proxied or proxied-then-direct (alternating), so load on
the shared machine hits both alike. Three configurations:

- `toy, no credentials`: tests/mcp/toy_upstream.py, a real MCP server over stdio that
  answers at once, so the upstream's own variance cannot hide what the proxy adds
  (`echo`, mapped to iam:ListRoles: an autonomous decision);
- `iam, no credentials`: the real awslabs.iam-mcp-server's `list_roles` on moto;
- `iam, per-call credentials`: the same with a grant per call (STS AssumeRole with
  SourceIdentity, credentials served to the upstream, outcome and revocation).

Added latency is reported three ways: p50/p99 of proxied minus p50/p99 of direct; the
p50/p99 of the paired difference (proxied_i − direct_i); and the proxy's own clock
(`--timings`: time from receiving the call to handing it to the upstream — the decision —
and the outcome report, which runs after the client has its answer). Prints tables;
writes benchmarks/results/mcp.json.

Usage::

    python benchmarks/bench_mcp.py                  # 1000 calls per path (grant: 100)
    python benchmarks/bench_mcp.py --calls 200      # quicker
    python benchmarks/bench_mcp.py --think 50       # 50 ms between calls (an agent thinks)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
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
    toy_params,
    toy_upstream,
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


def pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def direct_params(served: Served, command: Sequence[str]) -> StdioServerParameters:
    env = _cli_env()
    env.update(
        AWS_ENDPOINT_URL=served.world.moto.endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=served.world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=served.world.boot["remit_secret_access_key"],
    )
    return StdioServerParameters(
        command=command[0], args=list(command[1:]), env=env, cwd=str(served.folder)
    )


async def interleaved(
    direct: StdioServerParameters,
    proxied: StdioServerParameters,
    tool: str,
    arguments: dict[str, Any],
    n: int,
    think: float,
    served: Served | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """n calls on each session, alternating which goes first; ms per call. With `served`,
    a third leg in the same loop: the decision alone, asked with `remit.AsyncClient` (one
    kept-alive connection, as the proxy asks), then its outcome reported."""
    d_ms: list[float] = []
    p_ms: list[float] = []
    r_ms: list[float] = []
    alone = (remit.AsyncClient(served.url, served.keys["bot"], agent="remediator")
             if served else None)  # fmt: skip
    provenance = {"model": {"name": "claude-sonnet", "version": "2026-10-01"}, **FIND}
    m = meta(FIND)
    with open(Path(proxied.cwd or ".") / "bench-stderr.log", "a") as err:
        async with (
            stdio_client(direct, errlog=err) as (dr, dw),
            ClientSession(dr, dw) as ds,
            stdio_client(proxied, errlog=err) as (pr, pw),
            ClientSession(pr, pw) as ps,
        ):
            await ds.initialize()
            await ps.initialize()

            async def one(s: ClientSession, out: list[float] | None) -> None:
                t0 = time.perf_counter()
                res = await s.call_tool(tool, arguments, meta=m)
                if out is not None:
                    out.append((time.perf_counter() - t0) * 1000)
                if res.is_error:
                    raise SystemExit(f"call failed: {res.content}")

            async def decide_alone() -> None:
                assert alone is not None
                t0 = time.perf_counter()
                d = await alone.decide("iam:ListRoles", ["*"], provenance=provenance,
                                       reasoning=m["remit/reasoning"])  # fmt: skip
                r_ms.append((time.perf_counter() - t0) * 1000)
                await alone.report_outcome(d["id"], "succeeded")

            for _ in range(10):  # warm up both
                await one(ds, None)
                await one(ps, None)
            for i in range(n):
                pair = ((ds, d_ms), (ps, p_ms)) if i % 2 == 0 else ((ps, p_ms), (ds, d_ms))
                for s, out in pair:
                    await one(s, out)
                    if think:
                        await anyio.sleep(think / 1000)
                if alone is not None:
                    await decide_alone()
                    if think:
                        await anyio.sleep(think / 1000)
    if alone is not None:
        await alone.aclose()
    return d_ms, p_ms, r_ms


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


def own_clock(path: Path) -> dict[str, dict[str, float]]:
    """p50/p99 of the proxy's own timings (forwarded calls only, warm-up skipped)."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x]
    rows = [r for r in rows if r["verdict"] == "forwarded"][10:]
    out = {}
    for key in ("added_ms", "decide_ms", "forward_ms", "report_ms"):
        xs = [r[key] for r in rows if r[key] is not None]
        out[key] = {"p50": statistics.median(xs), "p99": pct(xs, 0.99)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--grant-calls", type=int, default=100)
    ap.add_argument("--think", type=float, default=0.0, help="ms between calls")
    ap.add_argument("--only", choices=["toy", "iam", "grant"], action="append")
    args = ap.parse_args()
    only = set(args.only or ["toy", "iam", "grant"])
    gen = serve_world(_Tmp())  # type: ignore[arg-type]
    served = next(gen)
    paths: dict[str, dict[str, Any]] = {}
    try:
        f = served.folder
        configs: list[tuple[str, Any, Any, str, dict[str, Any], int, Path]] = []
        if "toy" in only:
            t = f / "timings-toy.jsonl"
            configs.append(("toy, no credentials",
                            direct_params(served, toy_upstream(f / "toy-direct.jsonl")),
                            toy_params(served, f / "toy-proxied.jsonl", "--timings", str(t)),
                            "echo", {"x": 1}, args.calls, t))  # fmt: skip
        if "iam" in only:
            t = f / "timings-iam.jsonl"
            configs.append(("iam, no credentials", direct_params(served, IAM_SERVER),
                            proxy_params(served, "--credentials", "none", "--timings", str(t)),
                            "list_roles", {"max_items": 5}, args.calls, t))  # fmt: skip
        if "grant" in only:
            t = f / "timings-grant.jsonl"
            configs.append(("iam, per-call credentials", direct_params(served, IAM_SERVER),
                            proxy_params(served, "--timings", str(t)),
                            "list_roles", {"max_items": 5}, args.grant_calls, t))  # fmt: skip
        for name, direct, proxied, tool, arguments, n, timings in configs:
            load = os.getloadavg()[0]
            d, p, r = anyio.run(interleaved, direct, proxied, tool, arguments, n, args.think,
                                served if name.startswith("toy") else None)  # fmt: skip
            diff = [b - a for a, b in zip(d, p, strict=True)]
            paths[name] = {
                "calls": n,
                "load_1min_before": load,
                "load_1min_after": os.getloadavg()[0],
                "direct": {"p50": statistics.median(d), "p99": pct(d, 0.99)},
                "proxied": {"p50": statistics.median(p), "p99": pct(p, 0.99)},
                "added": {
                    "p50": statistics.median(p) - statistics.median(d),
                    "p99": pct(p, 0.99) - pct(d, 0.99),
                },
                "paired_difference": {"p50": statistics.median(diff), "p99": pct(diff, 0.99)},
                "proxy_clock": own_clock(timings),
            }
            if r:
                paths[name]["remit_decide_alone"] = {"p50": statistics.median(r),
                                                     "p99": pct(r, 0.99)}  # fmt: skip
        parts = breakdown(served, args.grant_calls) if "grant" in only else {}
    finally:
        gen.close()
    print(f"think time between calls: {args.think:g} ms")
    print(f"{'path':28} {'calls':>5} {'load':>9} {'direct p50/p99':>15} "
          f"{'proxied p50/p99':>16} {'added p50/p99':>15} {'paired p50/p99':>15}")  # fmt: skip
    for name, r in paths.items():
        print(
            f"{name:28} {r['calls']:5d} {r['load_1min_before']:4.2f}→{r['load_1min_after']:4.2f} "
            f"{r['direct']['p50']:7.2f}/{r['direct']['p99']:7.2f} "
            f"{r['proxied']['p50']:7.2f}/{r['proxied']['p99']:8.2f} "
            f"{r['added']['p50']:7.2f}/{r['added']['p99']:7.2f} "
            f"{r['paired_difference']['p50']:7.2f}/{r['paired_difference']['p99']:7.2f}"
        )
    print("the proxy's own clock (ms, p50/p99); beyond = paired p50 − decide p50 (what the")
    print("proxy adds besides Remit's decision: the extra stdio hop, mapping, digest, answer):")
    for name, r in paths.items():
        c = r["proxy_clock"]
        r["beyond_decide_p50"] = r["paired_difference"]["p50"] - c["decide_ms"]["p50"]
        print(f"  {name:28} " + "  ".join(
            f"{k[:-3]} {v['p50']:.2f}/{v['p99']:.2f}" for k, v in c.items())
            + f"  beyond {r['beyond_decide_p50']:.2f}")  # fmt: skip
    for name, r in paths.items():
        if "remit_decide_alone" in r:
            a = r["remit_decide_alone"]
            print(f"  {name:28} Remit decide alone, same loop (AsyncClient): "
                  f"{a['p50']:.2f}/{a['p99']:.2f}")  # fmt: skip
    result: dict[str, Any] = {"calls": args.calls, "grant_calls": args.grant_calls,
                              "think_ms": args.think, "paths": paths}  # fmt: skip
    if parts:
        print("grant path, the Remit calls alone (SDK over HTTP), p50/p99 ms:")
        result["breakdown"] = {}
        for name, xs in parts.items():
            result["breakdown"][name] = {"p50": statistics.median(xs), "p99": pct(xs, 0.99)}
            print(f"  {name:30} {statistics.median(xs):7.2f}/{pct(xs, 0.99):7.2f}")
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "mcp.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
