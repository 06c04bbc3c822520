"""Starting and stopping a real `remit serve` process for the demo (and for tests that
need one): a free port on 127.0.0.1, wait until /readyz, stop on exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from remit.aws.moto_server import free_port


@contextmanager
def running_service(
    args: Sequence[str], log: Path, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run `remit serve ARGS --port P`; yield its base URL once ready; always stop it."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "remit.cli",
        "serve",
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"remit serve exited ({proc.returncode}); see {log}:\n{log.read_text()}"
                    )
                try:
                    if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"remit serve did not become ready in {timeout:.0f}s; see {log}"
                    )
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
