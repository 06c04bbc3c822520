"""Group commit for the service: concurrent requests are queued and decided by one writer
thread in batches, one ledger transaction (one durable commit) per batch. Each request's
time is taken when it arrives; its answer is released only after the batch committed.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from remit.domain.decisions import Decision
from remit.ledger.log import Ledger
from remit.recorder.decisions import Ask, decide_many

log = logging.getLogger("remit.recorder")


class BatchRecorder:
    """Queues asks and records them in batches of up to `max_batch`."""

    def __init__(self, ledger: Ledger, max_batch: int = 128) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._q: queue.Queue[tuple[Ask, Future[Decision]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="remit-group-commit", daemon=True)
        self._thread.start()

    def submit(self, ask: Ask) -> Future[Decision]:
        fut: Future[Decision] = Future()
        self._q.put((ask, fut))
        return fut

    def close(self, timeout: float = 5.0) -> None:
        self._q.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                results = decide_many(self.ledger, [a for a, _ in batch])
            except BaseException as exc:  # decide_many fails closed itself; this is a bug
                log.exception("group commit failed")
                for _, fut in batch:
                    fut.set_exception(exc)
            else:
                for (_, fut), d in zip(batch, results, strict=True):
                    fut.set_result(d)
            if stop:
                return
