"""Group commit on the event loop's side: the requests that reach a handler in one turn of
the event loop go to the writer as one group, at the next turn, in groups of at most
`max_group`; the writer decides every group that queued while it was busy in one
transaction. One thread-safe call wakes every handler of a group once it is answered, not
one per request. The loop never waits for the writer, so reading new requests overlaps
with recording earlier ones.

Why groups are bounded: under a burst (every client's next request arrives in the same
turn, right after their answers went out) one group of all of them makes the two
processes take turns — the writer decides the whole group while the service waits, then
the service answers it while the writer waits. Smaller groups keep both busy at once: the
writer decides the next group while the service answers the previous one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LoopCoalescer(Generic[T, R]):
    """`await submit(item)`: the answer for `item`, sent to `send` in a group with the
    items that arrived with it. `send` answers a group in order, or fails it whole."""

    def __init__(self, send: Callable[[list[T]], Future[list[R]]], max_group: int = 16) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, not {max_group}")
        self.send = send
        self.max_group = max_group
        self._waiting: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:  # the first of this turn: the group goes at the next one
            waiting = self._waiting[loop] = []
            loop.call_soon(self._flush, loop)
        waiting.append((item, fut))
        if len(waiting) >= self.max_group:  # full: it goes now, the next one starts afresh
            self._flush(loop)
        return await fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        group = self._waiting.pop(loop, [])
        if not group:
            return
        done = self.send([item for item, _ in group])

        def answered(f: Future[list[R]]) -> None:  # may run on another thread
            if loop.is_closed():
                return
            if _running_loop() is loop:  # answered on the loop itself: wake them now
                _wake(group, f)
            else:
                loop.call_soon_threadsafe(_wake, group, f)

        done.add_done_callback(answered)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not on an event loop's thread
        return None


def _wake(group: list[tuple[T, asyncio.Future[R]]], done: Future[list[R]]) -> None:
    exc = done.exception()
    results = None if exc is not None else done.result()
    for i, (_, fut) in enumerate(group):
        if fut.done():  # the handler went away (client disconnected)
            continue
        if results is None:
            fut.set_exception(exc or RuntimeError("no answer"))
        else:
            fut.set_result(results[i])
