"""The decision writer and the event-loop coalescer that feeds it: groups decided in one
transaction and answered in order, bodies screened (422/403) on what is decided, the
envelope reloaded when the HTTP process saw a change first, the fast answer equal to the
`DecisionOut` model's, the typed wire messages framed intact, and failures answered,
never dropped."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import time
from concurrent.futures import Future
from multiprocessing import Pipe
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.server.conftest import Pki
from tests.server.srvkit import (
    NOW,
    example_request,
    held_request,
    read_request,
)

from remit.approvals.rules import ApprovalState
from remit.domain.canonical import canonical_json
from remit.domain.clock import ts_text
from remit.domain.ids import new_id
from remit.domain.tiers import Tier
from remit.envelope.signoff import signoffs_path
from remit.envelope.source import EnvelopeSource
from remit.ledger.kinds import DecisionRecord
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.verify import verify_store
from remit.oversight.drift import DriftInput
from remit.server.coalesce import LoopCoalescer
from remit.server.views import present, present_fresh
from remit.server.writer import (
    Answer,
    DecisionWriter,
    Notice,
    Status,
    WireAsk,
    WriterSpec,
    WriterUnavailable,
    decide_group,
)
from remit.server.writer.wire import Failed, Frames, Ready, send_frame
from remit.signing.keys import load_verifier_key

PENDING = ApprovalState.PENDING


def wire(body: dict[str, Any] | bytes, version: str, agent: str | None = "remediator") -> WireAsk:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WireAsk(raw, "agent:bot#k1", agent, ts_text(NOW), new_id("dec", NOW), version)


@pytest.fixture
def source(envelope_file: Path, pki: Pki) -> EnvelopeSource:
    return EnvelopeSource(envelope_file, [load_verifier_key(pki.ciso_pub)], insecure=False)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(open_store(str(tmp_path / "w.db")))


def test_a_group_is_one_transaction_answered_in_order(
    source: EnvelopeSource, tmp_path: Path, pki: Pki
) -> None:
    ledger = Ledger(open_store(str(tmp_path / "signed.db")), pki.log)
    version = source.current(NOW).version
    group = [
        wire(read_request(), version),
        wire(example_request(), version),
        wire(held_request(), version),
    ]
    answers = decide_group(ledger, source, group)
    assert [json.loads(a.body)["id"] for a in answers] == [g.decision_id for g in group]
    assert {a.status for a in answers} == {Status.DECIDED}
    assert [a.tier for a in answers] == [Tier.AUTONOMOUS, Tier.NOTIFY, Tier.APPROVE]
    # notify and approve carry what the notification needs; autonomous does not
    assert answers[0].notice is None
    for a in answers[1:]:
        assert a.notice is not None
        assert a.notice.request["action"] == "iam:DetachRolePolicy"
        assert a.notice.decision == json.loads(a.body)  # what the agent was answered
    assert ledger.store.size() == 3
    # each answer carries what its recorded decision shows the drift test, so the
    # service's sweep need not read it back: exactly what the entry itself shows
    for a in answers:
        assert a.summary is not None and a.summary[3] is not None
        record = ledger.store.entry(a.summary[3]).read_as(DecisionRecord).record
        assert a.drift == DriftInput.of(record)
        assert pickle.loads(pickle.dumps(a)) == a
    ledger.checkpoint(NOW)
    assert verify_store(ledger.store, load_verifier_key(pki.log_pub)).ok


def test_bad_bodies_are_refused_and_nothing_is_recorded(
    source: EnvelopeSource, ledger: Ledger
) -> None:
    version = source.current(NOW).version
    nan = json.dumps(example_request()).replace('"value": 42', '"value": NaN').encode()
    assert b"NaN" in nan
    group = [
        wire(b"{not json", version),
        wire({**read_request(), "agent": 7}, version),
        wire(read_request(agent="scanner"), version),  # the key is bound to remediator
        wire(nan, version),
    ]
    answers = decide_group(ledger, source, group)
    assert [a.status for a in answers] == [
        Status.INVALID,
        Status.INVALID,
        Status.FORBIDDEN,
        Status.INVALID,
    ]
    assert all(a.tier is None and a.notice is None for a in answers)
    assert json.loads(answers[1].body)["detail"][0]["field"] == "agent"
    assert b"bound to agent 'remediator'" in answers[2].body
    assert ledger.store.size() == 0


def test_an_admin_may_ask_for_any_agent(source: EnvelopeSource, ledger: Ledger) -> None:
    version = source.current(NOW).version
    (answer,) = decide_group(ledger, source, [wire(read_request(agent="scanner"), version, None)])
    assert (answer.status, answer.tier) == (Status.DECIDED, Tier.AUTONOMOUS)


def test_a_writer_that_does_not_notify_sends_no_notice(
    source: EnvelopeSource, ledger: Ledger
) -> None:
    version = source.current(NOW).version
    group = [wire(example_request(), version), wire(held_request(), version)]
    answers = decide_group(ledger, source, group, notifying=False)
    assert [(a.tier, a.notice) for a in answers] == [(Tier.NOTIFY, None), (Tier.APPROVE, None)]


def test_wire_messages_cross_the_pipe_whole_and_typed() -> None:
    """Framed messages come back equal and typed, however the bytes are split."""
    notice = Notice({"id": "dec_1", "tier": "notify"}, {"action": "s3:GetObject"})
    messages = [
        Ready(),
        [
            Answer(Status.DECIDED, b'{"id":"dec_1"}', Tier.NOTIFY, notice),
            Answer(Status.INVALID, b'{"detail":[]}'),
            Answer(Status.FORBIDDEN, b"not yours"),
        ],
        Failed("disk full"),
    ]
    reader, writer = Pipe(duplex=False)
    try:
        for m in messages:
            send_frame(writer, m)
        data = b""
        while reader.poll(0.5):
            data += os.read(reader.fileno(), 65536)
    finally:
        reader.close()
        writer.close()
    frames = Frames()
    got = [m for i in range(0, len(data), 7) for m in frames.feed(data[i : i + 7])]
    assert got == messages
    assert got[1][0].status is Status.DECIDED and got[1][0].tier is Tier.NOTIFY
    assert frames.buffer == bytearray()
    ask = wire(read_request(), "v1")
    assert pickle.loads(pickle.dumps(ask)) == ask


def test_the_writer_reloads_when_the_service_saw_another_envelope(
    source: EnvelopeSource, ledger: Ledger, envelope_file: Path, pki: Pki
) -> None:
    before = source.current(NOW).loaded.digest
    text = envelope_file.read_text(encoding="utf-8").replace("version: 7", "version: 8")
    assert text != envelope_file.read_text(encoding="utf-8")
    envelope_file.write_text(text, encoding="utf-8")
    fresh = EnvelopeSource(envelope_file, source.trusted, insecure=True).current(NOW)
    assert fresh.loaded.digest != before
    (answer,) = decide_group(ledger, source, [wire(read_request(), fresh.version)])
    assert json.loads(answer.body)["envelope"]["digest"] == fresh.loaded.digest


def test_the_writer_reloads_when_the_service_saw_the_signoffs_go(
    source: EnvelopeSource, ledger: Ledger, envelope_file: Path, pki: Pki
) -> None:
    """The sign-offs removed, the envelope unchanged (same digest): the HTTP process saw
    it, so the writer must not decide with the trust it checked a moment ago."""
    assert source.current(NOW).trust.valid  # the writer's view: checked just now, trusted
    signoffs_path(envelope_file).unlink()
    seen = EnvelopeSource(envelope_file, source.trusted, insecure=False).current(NOW)
    assert not seen.trust.valid and seen.loaded.digest == source.current(NOW).loaded.digest
    (answer,) = decide_group(ledger, source, [wire(read_request(), seen.version)])
    decision = json.loads(answer.body)
    assert decision["tier"] == "deny"
    assert "ENVELOPE_SIGNATURE_INVALID" in {r["code"] for r in decision["reasons"]}


@pytest.mark.parametrize("make", [read_request, example_request, held_request])
def test_the_fast_answer_is_the_models_answer(
    source: EnvelopeSource, ledger: Ledger, make: Any
) -> None:
    version = source.current(NOW).version
    (answer,) = decide_group(ledger, source, [wire(make(), version)])
    fast = json.loads(answer.body)
    row = ledger.store.reads.decision(fast["id"])
    assert row is not None
    data = json.loads(ledger.store.entry(row.index).body)["data"]
    d = {**data["decision"], "ledger_index": row.index, "actor": "agent:bot#k1"}
    d["on_behalf_of"] = data["request"]["on_behalf_of"]
    approval = data.get("approval")
    batch = source.current(NOW).loaded.envelope.defaults.batch_reads
    assert json.loads(present_fresh(d, approval, batch_reads=batch)) == fast
    for batch_reads in (True, False):  # the model's answer, without the fast path
        fast = json.loads(present_fresh(d, approval, batch_reads=batch_reads))
        if approval is None:
            slow = present(d, batch_reads=batch_reads)
        else:
            pending = {
                "decision_id": d["id"],
                "state": "pending",
                "requested_by": d["actor"],
                "on_behalf_of": d["on_behalf_of"],
                **approval,
            }
            slow = present(d, batch_reads=batch_reads, approval=pending, state=PENDING)
        assert slow.model_dump(mode="json") == fast


def test_coalescer_groups_one_turn_and_answers_each() -> None:
    sent: list[list[int]] = []

    def send(group: list[int]) -> Future[list[int]]:
        sent.append(group)
        f: Future[list[int]] = Future()
        f.set_result([x * 10 for x in group])
        return f

    async def main() -> list[int]:
        c: LoopCoalescer[int, int] = LoopCoalescer(send)
        first = await asyncio.gather(*(c.submit(i) for i in range(5)))
        second = await c.submit(9)
        return [*first, second]

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 90]
    assert sent == [[0, 1, 2, 3, 4], [9]]


def test_coalescer_cuts_a_burst_into_groups_of_at_most_max_group() -> None:
    """A burst that arrives in one turn goes as several bounded groups, in order, so the
    writer can decide one while the service answers another."""
    sent: list[list[int]] = []

    def send(group: list[int]) -> Future[list[int]]:
        sent.append(group)
        f: Future[list[int]] = Future()
        f.set_result([x + 1 for x in group])
        return f

    async def main() -> list[int]:
        c: LoopCoalescer[int, int] = LoopCoalescer(send, max_group=4)
        return list(await asyncio.gather(*(c.submit(i) for i in range(10))))

    assert asyncio.run(main()) == list(range(1, 11))
    assert sent == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError, match="at least 1"):
        LoopCoalescer(send, max_group=0)


def test_coalescer_fails_a_whole_group_when_the_writer_fails() -> None:
    def send(group: list[int]) -> Future[list[int]]:
        f: Future[list[int]] = Future()
        f.set_exception(WriterUnavailable("down"))
        return f

    async def main() -> list[BaseException | int]:
        c: LoopCoalescer[int, int] = LoopCoalescer(send)
        return await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, WriterUnavailable) for r in asyncio.run(main()))


def test_a_writer_that_cannot_open_its_ledger_does_not_start(
    tmp_path: Path, envelope_file: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("x")
    spec = WriterSpec(str(blocked / "sub" / "remit.db"), str(envelope_file), (), True)
    with pytest.raises(WriterUnavailable, match="could not start"):
        DecisionWriter(spec, start_timeout=60)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    doc = {"b": [1, 2.5, None, True], "a": {"é": "\u2028\n"}, "c": ("t",)}
    out = canonical_json(doc)
    assert out == '{"a":{"é":"\u2028\\n"},"b":[1,2.5,null,true],"c":["t"]}'.encode()
    assert canonical_json(json.loads(out)) == out
    assert out == orjson.dumps(json.loads(out), option=orjson.OPT_SORT_KEYS)
    with pytest.raises(TypeError):
        canonical_json({"when": object()})


def test_a_writer_that_will_not_start_again_is_tried_less_and_less_often(
    tmp_path: Path, envelope_file: Path
) -> None:
    folder = tmp_path / "ledger"
    spec = WriterSpec(str(folder / "remit.db"), str(envelope_file), (), True)
    writer = DecisionWriter(spec)
    try:
        old = writer.pid
        assert old is not None
        folder.rename(tmp_path / "moved")
        folder.write_text("not a folder")  # the ledger cannot be opened any more
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while writer.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.pid is None  # seen dead, though no request was waiting on it
        writer.ensure_running()  # notices, tries to start it again, fails (logged)
        assert writer.pid is None
        writer._retry_at = 0.0
        with pytest.raises(WriterUnavailable):
            writer.ensure_running()
        first_wait = writer._retry_at - time.monotonic()
        writer.ensure_running()  # too soon: not tried, nothing raised
        assert writer.pid is None
        writer._retry_at = 0.0
        with pytest.raises(WriterUnavailable):
            writer.ensure_running()
        assert writer._retry_at - time.monotonic() > first_wait
        folder.unlink()
        (tmp_path / "moved").rename(folder)
        writer._retry_at = 0.0
        writer.ensure_running()  # the ledger is back: it runs again
        assert writer.pid not in (None, old)
    finally:
        writer.close()
