"""The proxy's own stdin and stdout as event-loop pipes. The `mcp` SDK's `stdio_server()`
reads and writes the standard streams through `anyio.wrap_file`, which hands every line
read, every write and every flush to a worker thread: three thread hand-offs per message,
each a wake-up the scheduler may delay on a busy machine. Here the same streams are read
and written by the event loop itself (asyncio pipe transports) and given to
`stdio_server(stdin, stdout)`, which then skips its own file handling.

Only pipes, sockets and character devices can be driven this way; `event_loop_stdio`
yields None for anything else (a regular file, a closed descriptor), and the caller falls
back to the SDK's default. This module moves bytes; it knows nothing of MCP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

LINE_LIMIT = 64 * 1024 * 1024
"""The longest line (one JSON-RPC message) read from the client."""


class LineReader:
    """`async for line in reader` over a pipe, as the SDK's stdin reader iterates."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class LineWriter:
    """`await write(text)` / `await flush()` over a pipe, as the SDK's stdout writer
    calls them; `flush` waits only while the pipe is full."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def write(self, text: str) -> None:
        self.writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self.writer.drain()


def _pipe_like(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


@contextlib.asynccontextmanager
async def event_loop_stdio(
    stdin_fd: int = 0, stdout_fd: int = 1
) -> AsyncIterator[tuple[Any, Any] | None]:
    """(stdin, stdout) for `stdio_server`, on duplicates of the two descriptors, or None
    when they cannot be driven by the event loop."""
    if not (_pipe_like(stdin_fd) and _pipe_like(stdout_fd)):
        yield None
        return
    loop = asyncio.get_running_loop()
    rfile = os.fdopen(os.dup(stdin_fd), "rb", buffering=0)
    wfile = os.fdopen(os.dup(stdout_fd), "wb", buffering=0)
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    rtransport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), rfile
    )
    wtransport, wprotocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, wfile)
    writer = asyncio.StreamWriter(wtransport, wprotocol, None, loop)
    try:
        yield LineReader(reader), LineWriter(writer)
    finally:
        with contextlib.suppress(Exception):
            await writer.drain()
        wtransport.close()
        rtransport.close()
