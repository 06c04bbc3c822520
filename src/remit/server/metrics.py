"""Prometheus metrics at `/metrics`: decisions recorded by tier, decision latency, HTTP
requests by status class, approvals pending, decision-writer restarts and ledger size.

An ASGI wrapper around the service's app (so no route is added to it): it times each
request, answers GET /metrics itself in the Prometheus text format, and passes everything
else through unchanged. Counts of what is recorded are read from the ledger at scrape
time, so they are the same from every replica and survive restarts; latency and request
counts are this process's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from remit.server.access_log import App, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from remit.server.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _LedgerCollector(Collector):
    """What the ledger and the runtime say at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reads = self.rt.store.reads
        by_tier = GaugeMetricFamily(
            "remit_decisions_recorded",
            "Decisions recorded on the ledger, by tier.",
            labels=["tier"],
        )
        counts = reads.tier_counts()
        for tier in ("autonomous", "notify", "approve", "deny"):
            by_tier.add_metric([tier], counts.get(tier, 0))
        yield by_tier
        yield GaugeMetricFamily(
            "remit_approvals_pending",
            "Held decisions awaiting a person.",
            value=reads.pending_count(self.rt.clock()),
        )
        yield GaugeMetricFamily(
            "remit_ledger_entries", "Entries on the ledger.", value=self.rt.store.size()
        )
        launches = getattr(self.rt.writer, "launches", 1)
        yield GaugeMetricFamily(
            "remit_writer_restarts",
            "Times the decision writer process was started again.",
            value=max(0, launches - 1),
        )
        yield GaugeMetricFamily(
            "remit_writer_up",
            "1 when the decision writer runs.",
            value=1 if self.rt.writer.pid is not None else 0,
        )


class Metrics:
    """Wraps an ASGI app: times requests and serves GET /metrics."""

    def __init__(self, app: App, rt: Runtime) -> None:
        self.app = app
        self.registry = CollectorRegistry()
        self.registry.register(_LedgerCollector(rt))
        self.decide_seconds = Histogram(
            "remit_decision_seconds",
            "Time to answer POST /v1/decisions (decide and record).",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.requests = Counter(
            "remit_http_requests",
            "HTTP requests answered, by status class.",
            labelnames=["status"],
            registry=self.registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            await self._serve(send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.requests.labels(f"{status // 100}xx").inc()
            if scope.get("method") == "POST" and scope.get("path") == "/v1/decisions":
                self.decide_seconds.observe(time.perf_counter() - started)

    async def _serve(self, send: Send) -> None:
        try:
            body, status = generate_latest(self.registry), 200
        except Exception as exc:  # the ledger cannot be read: say so, as a scrape error
            body, status = f"# remit: metrics unavailable: {exc}\n".encode(), 503
        headers: list[Any] = [(b"content-type", CONTENT_TYPE.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
