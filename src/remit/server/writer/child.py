"""The decision writer's own process: its loop (`serve`) and what it does with a group
(`decide_group`: screen each request, decide and record the rest in one ledger
transaction, answer each).

Why a process and not a thread: deciding and recording is Python work. In a thread of
the HTTP process it would take turns with the HTTP work on one interpreter lock, and the
two would slow each other down. In its own process it runs beside the HTTP process, on
another core when there is one. Starting, feeding and restarting this process is the
service's side (`manager`), not this module's.
"""

from __future__ import annotations

import gc
import logging
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from remit.domain.clock import parse_ts, utcnow
from remit.envelope.source import EnvelopeSource, EnvelopeView
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.recorder.decisions import Ask, record_many
from remit.server.writer.answers import decided, screen
from remit.server.writer.wire import (
    Answer,
    Failed,
    Healthy,
    Message,
    Probe,
    Ready,
    WireAsk,
    WriterSpec,
    receive_group,
    send_frame,
)
from remit.signing.keys import load_signing_key, load_verifier_key

log = logging.getLogger("remit.writer")

MAX_BATCH = 32
"""Groups are joined into one ledger transaction while it holds fewer requests than this.
Small, as the service's groups are (`LoopCoalescer.max_group`): a longer transaction saves
a few commits but keeps the service waiting for all of its answers (measured in
docs/benchmarks.md, session 8)."""


def serve(conn: Connection, answers: Connection, spec: WriterSpec) -> None:
    """The writer's main loop until the service closes the pipe or says stop: take every
    group that queued, decide them in one transaction, answer each group in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when it stops
    try:
        key = load_signing_key(spec.checkpoint_key) if spec.checkpoint_key else None
        ledger = Ledger(open_store(spec.db), key)
        ledger.store.dedicate_to_appends()
        source = EnvelopeSource(
            Path(spec.envelope),
            [load_verifier_key(k) for k in spec.trusted_keys],
            spec.insecure_unsigned,
        )
        source.current(utcnow())
    except Exception as exc:
        send_frame(answers, Failed(f"{type(exc).__name__}: {exc}"))
        return
    gc.freeze()  # what start-up made lives as long as the writer: no collection walks it
    send_frame(answers, Ready())
    try:
        stopping = False
        while not stopping:
            try:
                first = receive_group(conn)
            except (EOFError, OSError):  # the service is gone
                return
            if first is None:  # the service is stopping
                return
            if isinstance(first, Probe):
                try:
                    send_frame(answers, probe(ledger))
                except OSError:  # the service is gone
                    return
                continue
            groups = [first]
            count = len(first)
            probed = False
            # Everything that queued while the last batch committed goes in this one.
            while count < MAX_BATCH and conn.poll(0):
                more = receive_group(conn)
                if more is None:
                    stopping = True
                    break
                if isinstance(more, Probe):  # answered after the groups before it
                    probed = True
                    break
                groups.append(more)
                count += len(more)
            try:
                replies = _decide_groups(ledger, source, groups, spec.notifying)
                if key is not None:
                    _checkpoint(ledger)
                for reply in replies:
                    send_frame(answers, reply)
                if probed:
                    send_frame(answers, probe(ledger))
            except OSError:  # the service is gone; what was recorded stays recorded
                return
    finally:
        ledger.store.close()


def _checkpoint(ledger: Ledger) -> None:
    """Sign what was just committed before it is answered (`checkpoint_after_commit`). A
    failure is logged and the answers still go out: the decisions are recorded, and the
    service's periodic checkpoint covers them later."""
    try:
        ledger.checkpoint(utcnow())
    except Exception:
        log.exception("checkpoint after commit failed")


def probe(ledger: Ledger) -> Healthy | Failed:
    """The answer to a `Probe`: `Healthy` if the store could record a decision now."""
    try:
        ledger.store.probe()
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {exc}")
    return Healthy()


def _decide_groups(
    ledger: Ledger, source: EnvelopeSource, groups: list[list[WireAsk]], notifying: bool
) -> list[Message]:
    """One transaction for all `groups`; one reply per group, in order."""
    try:
        answers = decide_group(ledger, source, [a for g in groups for a in g], notifying)
    except Exception as exc:  # answered as a failure: the service denies the groups
        log.exception("decision writer failed on a batch")
        return [Failed(f"{type(exc).__name__}: {exc}")] * len(groups)
    replies: list[Message] = []
    start = 0
    for g in groups:
        replies.append(answers[start : start + len(g)])
        start += len(g)
    return replies


def decide_group(
    ledger: Ledger, source: EnvelopeSource, group: Sequence[WireAsk], notifying: bool = True
) -> list[Answer]:
    """Decide and record one group in one transaction; the API's answer for each."""
    answers: list[Answer | None] = []
    asks: list[Ask] = []
    views: list[EnvelopeView] = []
    for wire in group:
        screened = screen(wire)
        if isinstance(screened, Answer):
            answers.append(screened)
            continue
        at = parse_ts(wire.at)
        view = source.current(at)
        if view.version != wire.version:  # the HTTP process saw a change first
            view = source.current(at, force=True)
        asks.append(Ask(view.gate, screened, wire.actor, at, wire.decision_id))
        views.append(view)
        answers.append(None)
    made = iter(zip(asks, views, record_many(ledger, asks) if asks else [], strict=True))
    out: list[Answer] = []
    for a in answers:
        if a is None:
            ask, view, (d, record) = next(made)
            a = decided(ask, view, d, notifying, record)
        out.append(a)
    return out
