"""What-if replay benchmark (issue 15): replay N recorded decisions against a proposed
envelope, beside the gate's own throughput in the same run as the ceiling.

One job: build an SQLite ledger of N decisions made by the example envelope (a mix of
reads, revocations, held and denied requests over many roles, recorded through
`make_entry` in batches — the same entries the live recorder writes), then time
`remit.oversight.runs.whatif` over all of it with a tightened envelope (R7 tier
approve) in `--workers` processes (default: one per CPU), then in this process alone
(sequential; the two reports must be equal), and time `Gate.decide` alone on the same
requests (the ceiling). Target: 1,000,000 decisions in ≤ 60 s. Also times drawing and recording the review sample of
the whole period (target: 1,000,000 decisions in ≤ 10 s).

Usage::

    python benchmarks/bench_whatif.py                  # 1,000,000 decisions
    python benchmarks/bench_whatif.py --decisions 100000
    python benchmarks/bench_whatif.py --workers 2 --no-sequential

Writes benchmarks/results/whatif.json (whatif-<n>.json when --decisions is given).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from remit.decide import Gate, StaticState
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.envelope.loader import load_envelope, load_envelope_text
from remit.envelope.signoff import check_signoffs, create_signoff
from remit.ledger.log import Ledger
from remit.ledger.sqlite_store import SqliteStore
from remit.oversight.review import draw_sample
from remit.oversight.runs import whatif
from remit.signing.keys import generate_signing_key

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 21, tzinfo=UTC)
SIGNED = datetime(2026, 11, 1, tzinfo=UTC)


def requests(n: int) -> list[dict[str, Any]]:
    base = json.loads((ROOT / "examples" / "request.json").read_text())
    find = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
    out = []
    for i in range(n):
        r = json.loads(json.dumps(base))
        r["resources"] = [{"arn": f"arn:aws:iam::111122223333:role/r{i % 5000}", "tags": {}}]
        kind = i % 10
        if kind < 5:
            r["action"] = "iam:ListRoles"
            r["provenance"]["workflow"] = find
        elif kind == 8:
            r["reasoning"]["confidence"] = 0.5  # held
        elif kind == 9:
            r["action"] = "iam:CreateUser"  # denied
        out.append(r)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--no-sequential", action="store_true", help="skip the one-process replay beside it"
    )
    args = ap.parse_args()
    n = args.decisions
    loaded = load_envelope(ROOT / "examples" / "envelope.yaml")
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(True, SIGNED, "bench"))
    templates = [ActionRequest.model_validate(r) for r in requests(2000)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        ledger = Ledger(store)
        key = generate_signing_key("bench.example.com")
        signoff = create_signoff(loaded, key, "ciso@example.com", "CISO", SIGNED)
        _, checks = check_signoffs(loaded, [signoff], [key.verifier()], START)
        ledger.record_signoffs(checks, SIGNED, "system:bench")
        state = StaticState()
        t0 = time.perf_counter()
        batch = []
        for i in range(n):
            req = templates[i % len(templates)]
            at = START + timedelta(seconds=i * 3)
            d = gate.decide(req, at, state)
            batch.append(
                Ledger.decision_entry(
                    req.canonical(), d, "agent:bench", at + timedelta(hours=1), None
                )
            )
            if len(batch) == 20_000:
                store.append(batch)
                batch = []
        if batch:
            store.append(batch)
        build_s = time.perf_counter() - t0
        text = (ROOT / "examples" / "envelope.yaml").read_text()
        proposed = load_envelope_text(
            text.replace(
                "    when: {min_confidence: 0.8}\n    tier: autonomous",
                "    when: {min_confidence: 0.8}\n    tier: approve",
            )
        )
        pgate = Gate(proposed.envelope, proposed.digest, EnvelopeTrust(False, None, "proposed"))
        t0 = time.perf_counter()
        report = whatif(store, pgate, None, workers=args.workers)
        replay_s = time.perf_counter() - t0
        seq_s = None
        if not args.no_sequential and args.workers > 1:
            t0 = time.perf_counter()
            alone = whatif(store, pgate, None, workers=1)
            seq_s = time.perf_counter() - t0
            assert alone.to_dict() == report.to_dict(), "partitioned report differs"
        # Sampling the whole period (issue 15: 1,000,000 decisions in <= 10 s), for real:
        # a signed checkpoint after the period, then the recorded draw of every tier.
        end = START + timedelta(seconds=n * 3 + 1)
        signer = Ledger(store, generate_signing_key("bench-log.example.com"))
        signer.checkpoint(end + timedelta(hours=1))
        t0 = time.perf_counter()
        drawn = draw_sample(
            signer, START, end, end + timedelta(days=1), "reviewer:bench", tiers=list(Tier)
        )
        sample_s = time.perf_counter() - t0
        # The ceiling: the gate alone on the same number of requests.
        m = min(n, 200_000)
        t0 = time.perf_counter()
        for i in range(m):
            gate.decide(templates[i % len(templates)], START, state)
        gate_rate = m / (time.perf_counter() - t0)
        store.close()
    result = {
        "decisions": n,
        "replayed": report.replayed,
        "flipped": len(report.flips),
        "by_tiers": {f"{o}->{w}": c for (o, w), c in report.by_tiers.items()},
        "workers": args.workers,
        "replay_seconds": round(replay_s, 1),
        "replay_per_second": round(report.replayed / replay_s),
        "sequential_replay_seconds": None if seq_s is None else round(seq_s, 1),
        "speedup": None if seq_s is None else round(seq_s / replay_s, 2),
        "gate_only_per_second": round(gate_rate),
        "ratio_to_gate": round(report.replayed / replay_s / gate_rate, 2),
        "sequential_ratio_to_gate": None if seq_s is None else round(n / seq_s / gate_rate, 2),
        "seconds_for_1m_at_this_rate": round(1_000_000 / (report.replayed / replay_s), 1),
        "target_seconds_for_1m": 60,
        "sample_seconds": round(sample_s, 2),
        "sample_size": len(drawn.record.decision_ids),
        "target_sample_seconds": 10,
        "ledger_build_seconds": round(build_s, 1),
    }
    print(json.dumps(result, indent=2))
    name = "whatif.json" if n == 1_000_000 else f"whatif-{n}.json"
    out = Path(__file__).parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
