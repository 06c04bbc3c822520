"""The service's side of the decision writer: `DecisionWriter` starts the writer process,
sends it groups of requests and hands each group its answers, and starts it again (with
back-off) when it dies or will not start.

The two talk over a pipe, one message per group each way, in order (`wire`). Failing
closed: if the writer dies or cannot answer, every group it held fails with
`WriterUnavailable`, and the service answers those requests deny LEDGER_UNAVAILABLE.
Every group and probe has a deadline: one not answered in time fails at once, and the
writer (stuck: stopped, hung in I/O) is killed and started again.
What the writer does with a group is `child`'s job, not this module's.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.connection import Connection
from typing import Any

from remit.errors import Unavailable
from remit.server.writer import child
from remit.server.writer.wire import (
    Answer,
    Failed,
    Frames,
    Healthy,
    Message,
    Probe,
    Ready,
    WireAsk,
    WriterSpec,
    encode_group,
)

log = logging.getLogger("remit.writer")

MAX_RETRY_SECONDS = 30.0
"""The longest wait between two tries to start a writer that will not start."""

DEFAULT_DEADLINE = 5.0
"""Seconds the writer has to answer a group or a probe before it counts as stuck."""

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([child.__name__])  # the writer's code, imported once


class WriterUnavailable(Unavailable):
    """The writer is not running or did not answer; nothing it held was confirmed."""


class DecisionWriter:
    """Starts the writer process and sends it groups; `submit_many` returns a future of
    the answers, or fails with `WriterUnavailable`.

    Answers are read on the service's event loop once `attach` gave it one (no thread
    then has to win the interpreter lock to hand them over), else by a reader thread."""

    def __init__(
        self, spec: WriterSpec, start_timeout: float = 60.0, deadline: float = DEFAULT_DEADLINE
    ) -> None:
        if deadline <= 0:
            raise ValueError(f"writer deadline must be positive, not {deadline}")
        self.spec = spec
        self.start_timeout = start_timeout
        self.deadline = deadline
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Future[Any], float]] = deque()  # (future, due)
        self._closing = False
        self._conn: Connection | None = None
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._listening = False  # someone reads the current answer pipe
        self._answers: Connection | None = None
        self._frames = Frames()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = threading.Lock()
        self._retry_delay, self._retry_at = 0.5, 0.0
        self._sending = threading.Lock()
        atexit.register(self.close)  # at exit: stop it; a dying writer is not restarted
        self.launches = 0  # writer processes started (more than 1: restarts; /metrics)
        self._start()
        threading.Thread(target=self._watch, name="remit-writer-deadline", daemon=True).start()

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
            target=child.serve,
            args=(requests_in, answers_out, self.spec),
            name="remit-decision-writer",
            daemon=True,
        )
        proc.start()
        self.launches += 1
        requests_in.close()
        answers_out.close()
        frames = Frames()
        first: list[Message] = []
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
        if not isinstance(first[0], Ready):
            proc.join(5)
            why = first[0].why if isinstance(first[0], Failed) else repr(first[0])
            raise WriterUnavailable(f"the decision writer could not start: {why}")
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
        fut: Future[list[Answer]] = self._submit(encode_group(group))
        return fut

    def probe(self) -> str | None:
        """None if the writer answered a `Probe` within the deadline saying its store can
        be written now; else why not. Records nothing."""
        fut = self._submit(encode_group(Probe()))
        try:
            fut.result(timeout=self.deadline + 1.0)
        except WriterUnavailable as exc:
            return str(exc)
        except FutureTimeout:
            return f"the decision writer did not answer a probe within {self.deadline}s"
        return None

    def _submit(self, data: bytes) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._sending:  # answers come back in the order groups went out
            self._listen()
            with self._lock:
                conn = self._conn
                if conn is not None:
                    self._waiting.append((fut, time.monotonic() + self.deadline))
            if conn is None:
                _fail(fut, "the decision writer is not running")
                return fut
            try:  # not under _lock: the reader must be able to take answers meanwhile
                conn.send_bytes(data)
            except OSError as exc:  # the reader sees the writer gone and fails the rest
                _fail(fut, f"cannot reach the decision writer: {exc}")
        return fut

    def _watch(self) -> None:
        """On its own thread: fail what the writer did not answer in time, and kill the
        writer (the pipe then closes, and it is started again as after any death)."""
        tick = min(0.1, self.deadline / 10)
        while not self._closing:
            time.sleep(tick)
            now = time.monotonic()
            with self._lock:
                late = []
                for fut, due in self._waiting:  # in order of due time
                    if due > now:
                        break
                    if not fut.done():
                        late.append(fut)
                proc = self._proc if late and self._conn is not None else None
            if not late:
                continue
            why = f"the decision writer did not answer within {self.deadline}s; restarting it"
            for fut in late:
                _fail(fut, why)
            if proc is not None and proc.is_alive():
                log.error("%s (pid %s)", why, proc.pid)
                proc.kill()  # works on a stopped process too

    def _answer(self, message: Message) -> None:
        with self._lock:
            fut, _ = self._waiting.popleft()
        if isinstance(message, list | Healthy):
            with contextlib.suppress(InvalidStateError):
                fut.set_result(message)
        else:
            _fail(fut, message.why if isinstance(message, Failed) else repr(message))

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
            self._answer(message)
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
            lost = [f for f, _ in self._waiting]
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
                conn.send_bytes(encode_group(None))  # the writer finishes what it holds, exits
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()


def _fail(fut: Future[Any], why: str) -> None:
    with contextlib.suppress(InvalidStateError):  # already answered or failed elsewhere
        fut.set_exception(WriterUnavailable(why))
