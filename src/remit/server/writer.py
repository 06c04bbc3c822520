"""The decision writer: a child process of the service that decides and records groups of
requests (the gate under the ledger's append lock, one durable transaction per group) and
answers each with the API's view of its decision.

Why a process and not a thread: deciding and recording is Python work. In a thread of
the HTTP process it would take turns with the HTTP work on one interpreter lock, and the
two would slow each other down. In its own process it runs beside the HTTP process, on
another core when there is one; the HTTP process only checks keys and moves bytes.

The two talk over a pipe, one message per group each way, in order. What crosses is
plain data: each request's body as received, the caller, the time it arrived, the
decision id and the version of the envelope and sign-offs the HTTP process had in force
(the writer reloads its own copy when they differ). Failing closed: if the writer dies
or cannot answer, every request it held is answered deny LEDGER_UNAVAILABLE, and the
writer is started again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from remit.domain.clock import parse_ts, utcnow
from remit.domain.requests import ActionRequest
from remit.envelope.source import EnvelopeSource, EnvelopeView
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.recorder.decisions import Ask, record_many
from remit.server.views import not_your_agent, present_fresh, readable_errors
from remit.signing.keys import load_verifier_key

log = logging.getLogger("remit.writer")

WireAsk = tuple[bytes, str, str | None, str, str, str]
"""(request body as received, caller label, the agent the caller's key is bound to (None
for admin), arrival time as ledger time text, decision id, the version
(`EnvelopeView.version`) of the envelope and sign-offs the HTTP process had in force)."""

Answer = tuple[str, bytes, dict[str, Any] | None]
"""(kind, body, request): kind is the tier, with body the `DecisionOut` JSON and, for
notify and approve, the request's JSON (for the notification); or INVALID with body the
422 error list, or FORBIDDEN with body the 403 message."""

MAX_RETRY_SECONDS = 30.0
"""The longest wait between two tries to start a writer that will not start."""

MAX_BATCH = 512
"""At most this many requests are decided in one ledger transaction."""

INVALID = "invalid"
FORBIDDEN = "forbidden"


def screen(raw: bytes, bound_agent: str | None) -> ActionRequest | Answer:
    """The request in `raw`, or the answer refusing it: 422 for a body that is not a valid
    `ActionRequest`, 403 when the caller's key is bound to another agent. Run on the
    validated request, so what is checked is exactly what is decided."""
    try:
        request = ActionRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = readable_errors(list(exc.errors(include_url=False)))
        return INVALID, orjson.dumps({"detail": errors}), None
    if bound_agent is not None and request.agent != bound_agent:
        return FORBIDDEN, not_your_agent(bound_agent, request.agent).encode(), None
    return request


@dataclass(frozen=True)
class WriterSpec:
    """What the writer opens: the ledger and the envelope with its trusted keys."""

    db: str
    envelope: str
    trusted_keys: tuple[str, ...]
    insecure_unsigned: bool
    notifying: bool = True  # answers for notify and approve carry the request (to tell)


class WriterUnavailable(RuntimeError):
    """The writer is not running or did not answer; nothing it held was confirmed."""


# -- the child --------------------------------------------------------------------------


def serve(conn: Connection, answers: Connection, spec: WriterSpec) -> None:
    """The writer's main loop until the service closes the pipe or says stop: take every
    group that queued, decide them in one transaction, answer each group in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when it stops
    try:
        ledger = Ledger(open_store(spec.db))
        ledger.store.dedicate_to_appends()
        source = EnvelopeSource(
            Path(spec.envelope),
            [load_verifier_key(k) for k in spec.trusted_keys],
            spec.insecure_unsigned,
        )
        source.current(utcnow())
    except Exception as exc:
        _send_frame(answers, ("error", f"{type(exc).__name__}: {exc}"))
        return
    gc.freeze()  # what start-up made lives as long as the writer: no collection walks it
    _send_frame(answers, ("ready", None))
    try:
        stopping = False
        while not stopping:
            try:
                first = _receive(conn)
            except (EOFError, OSError):  # the service is gone
                return
            if first is None:  # the service is stopping
                return
            groups = [first]
            count = len(first)
            # Everything that queued while the last batch committed goes in this one.
            while count < MAX_BATCH and conn.poll(0):
                more = _receive(conn)
                if more is None:
                    stopping = True
                    break
                groups.append(more)
                count += len(more)
            try:
                for reply in _decide_groups(ledger, source, groups, spec.notifying):
                    _send_frame(answers, reply)
            except OSError:  # the service is gone; what was recorded stays recorded
                return
    finally:
        ledger.store.close()


def _send_frame(answers: Connection, message: object) -> None:
    """One answer message: an 8-byte length, then the pickled message, written whole (the
    service reads answers without blocking its event loop, so it frames them itself)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(payload)) + payload)
    while view:
        view = view[os.write(answers.fileno(), view) :]


class _Frames:
    """Splits the answer stream back into messages, whatever sizes it arrives in."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self.buffer += data
        out = []
        while len(self.buffer) >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + n
            if len(self.buffer) < end:
                break
            out.append(pickle.loads(self.buffer[_LENGTH.size : end]))  # noqa: S301 (our own pipe)
            del self.buffer[:end]
        return out


_LENGTH = struct.Struct("!Q")


def _receive(conn: Connection) -> list[WireAsk] | None:
    group: list[WireAsk] | None = pickle.loads(conn.recv_bytes())  # noqa: S301 (our own pipe)
    return group


def _decide_groups(
    ledger: Ledger, source: EnvelopeSource, groups: list[list[WireAsk]], notifying: bool
) -> list[tuple[str, object]]:
    """One transaction for all `groups`; one reply per group, in order."""
    try:
        answers = decide_group(ledger, source, [a for g in groups for a in g], notifying)
    except Exception as exc:  # answered as a failure: the service denies the groups
        log.exception("decision writer failed on a batch")
        return [("error", f"{type(exc).__name__}: {exc}")] * len(groups)
    replies: list[tuple[str, object]] = []
    start = 0
    for g in groups:
        replies.append(("ok", answers[start : start + len(g)]))
        start += len(g)
    return replies


def decide_group(
    ledger: Ledger, source: EnvelopeSource, group: Sequence[WireAsk], notifying: bool = True
) -> list[Answer]:
    """Decide and record one group in one transaction; the API's answer for each."""
    answers: list[Answer | None] = []
    asks: list[Ask] = []
    views: list[EnvelopeView] = []
    for raw, actor, bound_agent, at_text, decision_id, version in group:
        screened = screen(raw, bound_agent)
        if not isinstance(screened, ActionRequest):
            answers.append(screened)
            continue
        at = parse_ts(at_text)
        view = source.current(at)
        if view.version != version:  # the HTTP process saw a change first
            view = source.current(at, force=True)
        asks.append(Ask(view.gate, screened, actor, at, decision_id))
        views.append(view)
        answers.append(None)
    decided = iter(zip(asks, views, record_many(ledger, asks) if asks else [], strict=True))
    return [a if a is not None else answer(*next(decided), notifying) for a in answers]


def answer(ask: Ask, view: EnvelopeView, d: dict[str, Any], notifying: bool = True) -> Answer:
    """The API's answer for decision `d` just made (its JSON: recorded, or denied as
    unrecordable); with `notifying`, a notify or approve answer carries the request for
    the message."""
    d["actor"] = ask.actor
    d["on_behalf_of"] = ask.request.on_behalf_of
    approval = d.get("approval")
    body = present_fresh(
        d,
        approval if isinstance(approval, dict) else None,
        batch_reads=view.loaded.envelope.defaults.batch_reads,
    )
    told = notifying and d["tier"] in ("notify", "approve")
    return d["tier"], body, ask.request_json if told else None


# -- the service's side -----------------------------------------------------------------

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])


class DecisionWriter:
    """Starts the writer process and sends it groups; `submit_many` returns a future of
    the answers, or fails with `WriterUnavailable`.

    Answers are read on the service's event loop once `attach` gave it one (no thread
    then has to win the interpreter lock to hand them over), else by a reader thread."""

    def __init__(self, spec: WriterSpec, start_timeout: float = 60.0) -> None:
        self.spec = spec
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._waiting: deque[Future[list[Answer]]] = deque()
        self._closing = False
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._listening = False  # someone reads the current answer pipe
        self._answers: Connection | None = None
        self._frames = _Frames()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = threading.Lock()
        self._retry_delay, self._retry_at = 0.5, 0.0
        self._sending = threading.Lock()
        atexit.register(self.close)  # at exit: stop it; a dying writer is not restarted
        self._start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read answers on `loop` from now on (call from that loop, before serving)."""
        with self._sending:
            self._loop = loop
            self._listen()

    def ensure_running(self) -> None:
        """Start the writer again if it is down (called every second by the service). After
        a failed start the next try waits twice as long, up to `MAX_RETRY_SECONDS`."""
        conn, proc = self._conn, self._proc
        if conn is not None and proc is not None and not proc.is_alive():
            self._gone(conn, proc)  # it died with nobody reading its pipe; this restarts it
            return
        if conn is not None or self._closing or time.monotonic() < self._retry_at:
            return
        try:
            self._start()
        except WriterUnavailable:
            self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_SECONDS)
            self._retry_at = time.monotonic() + self._retry_delay
            raise
        self._retry_delay, self._retry_at = 0.5, 0.0

    def _start(self) -> None:
        with self._starting:
            if self._conn is None and not self._closing:
                self._launch()

    def _launch(self) -> None:
        requests_in, requests_out = _CONTEXT.Pipe(duplex=False)
        answers_in, answers_out = _CONTEXT.Pipe(duplex=False)
        proc = _CONTEXT.Process(
            target=serve,
            args=(requests_in, answers_out, self.spec),
            name="remit-decision-writer",
            daemon=True,
        )
        proc.start()
        requests_in.close()
        answers_out.close()
        frames = _Frames()
        first: list[Any] = []
        deadline = time.monotonic() + self.start_timeout
        while not first and answers_in.poll(max(0.0, deadline - time.monotonic())):
            data = os.read(answers_in.fileno(), 65536)
            if not data:
                break
            first = frames.feed(data)
        if not first:
            proc.kill()
            proc.join(5)
            raise WriterUnavailable(
                f"the decision writer did not start in {self.start_timeout}s "
                f"(exit code {proc.exitcode})"
            )
        status, detail = first[0]
        if status != "ready":
            proc.join(5)
            raise WriterUnavailable(f"the decision writer could not start: {detail}")
        with self._lock:
            self._conn, self._proc, self._listening = requests_out, proc, False
            self._answers, self._frames = answers_in, frames

    def _listen(self) -> None:
        """Make sure the current pipe has a reader (called under `_sending`)."""
        conn, answers, proc, loop = self._conn, self._answers, self._proc, self._loop
        if self._listening or conn is None or answers is None or proc is None:
            return
        self._listening = True
        if loop is not None:
            os.set_blocking(answers.fileno(), False)  # _drain takes what is there, no more
            loop.call_soon_threadsafe(loop.add_reader, answers.fileno(), self._drain, conn, proc)
        else:
            threading.Thread(
                target=self._read, args=(conn, proc), name="remit-writer-reader", daemon=True
            ).start()

    @property
    def pid(self) -> int | None:
        """The running writer's process id; None while it is down."""
        proc = self._proc
        alive = proc is not None and self._conn is not None and proc.is_alive()
        return proc.pid if alive and proc is not None else None

    def submit_many(self, group: list[WireAsk]) -> Future[list[Answer]]:
        fut: Future[list[Answer]] = Future()
        data = pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)
        with self._sending:  # answers come back in the order groups went out
            self._listen()
            with self._lock:
                conn = self._conn
                if conn is not None:
                    self._waiting.append(fut)
            if conn is None:
                _fail(fut, "the decision writer is not running")
                return fut
            try:  # not under _lock: the reader must be able to take answers meanwhile
                conn.send_bytes(data)
            except OSError as exc:  # the reader sees the writer gone and fails the rest
                _fail(fut, f"cannot reach the decision writer: {exc}")
        return fut

    def _answer(self, status: str, payload: object) -> None:
        with self._lock:
            fut = self._waiting.popleft()
        if status != "ok":
            _fail(fut, str(payload))
        else:
            with contextlib.suppress(InvalidStateError):
                fut.set_result(payload)  # type: ignore[arg-type]

    def _take(self, answers: Connection) -> bool:
        """Read what has arrived and answer every whole message in it; False once the
        writer is gone. On a non-blocking pipe with nothing there: BlockingIOError."""
        try:
            data = os.read(answers.fileno(), 1 << 20)
        except BlockingIOError:
            raise
        except OSError:
            return False
        for message in self._frames.feed(data):
            self._answer(*message)
        return bool(data)

    def _drain(self, conn: Connection, proc: multiprocessing.process.BaseProcess) -> None:
        """On the event loop: take the answers that have arrived, never waiting for more."""
        answers = self._answers
        assert answers is not None
        try:
            while self._take(answers):
                pass
        except BlockingIOError:
            return
        with contextlib.suppress(Exception):  # the writer is gone
            asyncio.get_running_loop().remove_reader(answers.fileno())
        threading.Thread(target=self._gone, args=(conn, proc), daemon=True).start()

    def _read(self, conn: Connection, proc: multiprocessing.process.BaseProcess) -> None:
        """On the reader thread: take answers until the writer is gone."""
        answers = self._answers
        assert answers is not None
        while self._take(answers):
            pass
        self._gone(conn, proc)

    def _gone(self, conn: Connection, proc: multiprocessing.process.BaseProcess) -> None:
        with self._lock:  # the writer is gone: what it held is not confirmed
            if self._conn is conn:
                self._conn = None
            lost = list(self._waiting)
            self._waiting.clear()
        for fut in lost:
            _fail(fut, "the decision writer stopped")
        conn.close()
        with contextlib.suppress(OSError):
            if self._answers is not None and self._conn is None:
                self._answers.close()
        proc.join(5)
        if self._closing:
            return
        log.error("decision writer exited (code %s); starting it again", proc.exitcode)
        try:  # meanwhile requests are denied at once (no writer), never held
            self._start()
        except Exception:
            log.exception("the decision writer could not be restarted")

    def close(self, timeout: float = 10.0) -> None:
        atexit.unregister(self.close)
        with self._lock:
            self._closing = True
            conn, proc = self._conn, self._proc
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send_bytes(pickle.dumps(None))  # the writer finishes what it holds, exits
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()


def _fail(fut: Future[list[Answer]], why: str) -> None:
    with contextlib.suppress(InvalidStateError):  # already answered or failed elsewhere
        fut.set_exception(WriterUnavailable(why))
