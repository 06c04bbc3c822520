"""A small closed- and open-loop HTTP/1.1 load generator over asyncio streams (keep-alive,
one connection per virtual client). Runs in its own process so it does not share the
server's interpreter. Prints one JSON object: requests, errors, seconds, latencies.

    python loadgen.py URL --body FILE --header 'Authorization: Bearer …' --concurrency 32 --seconds 10 [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


async def _client(
    host: str,
    port: int,
    request: bytes,
    stop: float,
    lat: list[float],
    errs: list[int],
    pace: asyncio.Queue[None] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop:
            if pace is not None:
                try:
                    await asyncio.wait_for(pace.get(), timeout=max(0.0, stop - time.perf_counter()))
                except TimeoutError:
                    return
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not status_line.startswith(b"HTTP/1.1 2"):
                errs.append(int(status_line.split()[1]) if status_line else 0)
    finally:
        writer.close()


async def _pacer(rate: float, stop: float, q: asyncio.Queue[None]) -> None:
    interval = 1.0 / rate
    nxt = time.perf_counter()
    while nxt < stop:
        q.put_nowait(None)
        nxt += interval
        await asyncio.sleep(max(0.0, nxt - time.perf_counter()))


async def run(
    url: str,
    body: bytes,
    headers: list[str],
    concurrency: int,
    seconds: float,
    rate: float | None,
    method: str,
) -> dict[str, object]:
    u = urlsplit(url)
    head = [
        f"{method} {u.path or '/'} HTTP/1.1",
        f"Host: {u.hostname}:{u.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    lat: list[float] = []
    errs: list[int] = []
    start = time.perf_counter()
    stop = start + seconds
    pace: asyncio.Queue[None] | None = asyncio.Queue() if rate else None
    tasks = [
        asyncio.create_task(
            _client(u.hostname or "127.0.0.1", u.port or 80, request, stop, lat, errs, pace)
        )
        for _ in range(concurrency)
    ]
    if rate and pace is not None:
        tasks.append(asyncio.create_task(_pacer(rate, stop, pace)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")

    return {
        "requests": len(lat),
        "errors": len(errs),
        "error_codes": sorted(set(errs))[:5],
        "seconds": elapsed,
        "rps": len(lat) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--body", default=None)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=None)
    ap.add_argument("--method", default="POST")
    a = ap.parse_args()
    body = Path(a.body).read_bytes() if a.body else b"{}"
    try:  # uvloop when installed (it comes with uvicorn[standard]): less CPU per request
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    print(
        json.dumps(runner(run(a.url, body, a.header, a.concurrency, a.seconds, a.rate, a.method)))
    )


if __name__ == "__main__":
    main()
