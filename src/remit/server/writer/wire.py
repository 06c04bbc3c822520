"""What crosses the pipe between the service and its decision writer: the typed request
(`WireAsk`) and answer (`Answer`, with its `Status`), the health probe (`Probe`, answered
`Healthy` or `Failed`), the writer's other messages (`Ready`, `Failed`), what the writer
opens (`WriterSpec`), and the framing of both directions.

Plain data only: no deciding, no screening, no process management. Each class pickles as
its fields in order (`__reduce__`), which keeps the per-request cost of crossing the pipe
close to that of a tuple.
"""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass
from enum import Enum
from multiprocessing.connection import Connection
from typing import Any

from remit.domain.tiers import Tier
from remit.oversight.drift import DriftInput


@dataclass(frozen=True, slots=True)
class WriterSpec:
    """What the writer opens: the ledger and the envelope with its trusted keys."""

    db: str
    envelope: str
    trusted_keys: tuple[str, ...]
    insecure_unsigned: bool
    notifying: bool = True  # notify and approve answers carry a `Notice` (to tell humans)
    checkpoint_key: str | None = None
    """The log key's file, when a checkpoint is to be signed after every group commit."""


@dataclass(frozen=True, slots=True)
class WireAsk:
    """One request as the HTTP process hands it to the writer."""

    body: bytes
    """The request body as received (not parsed by the HTTP process)."""
    actor: str
    """The caller's label."""
    bound_agent: str | None
    """The agent the caller's key is bound to; None for a key that may ask for any."""
    at: str
    """Arrival time, as ledger time text (`ts_text`)."""
    decision_id: str
    version: str
    """The version (`EnvelopeView.version`) of the envelope and sign-offs the HTTP
    process had in force; the writer reloads its own copy when it differs."""

    def __reduce__(self) -> tuple[Any, ...]:
        return WireAsk, (
            self.body,
            self.actor,
            self.bound_agent,
            self.at,
            self.decision_id,
            self.version,
        )


class Status(Enum):
    """What an answer is: a decision (HTTP 200), or a refusal before deciding."""

    DECIDED = "decided"
    """Decided (recorded, or deny LEDGER_UNAVAILABLE if it could not be): 200."""
    INVALID = "invalid"
    """The body is not a valid `ActionRequest`: 422."""
    FORBIDDEN = "forbidden"
    """The caller's key is bound to another agent: 403."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What the service needs to tell humans about a notify or approve decision, as the
    writer built it (the service never parses an answer it is handed)."""

    decision: dict[str, Any]
    """The decision as answered (the `DecisionOut` JSON's content)."""
    request: dict[str, Any]
    """The request's canonical JSON."""

    def __reduce__(self) -> tuple[Any, ...]:
        return Notice, (self.decision, self.request)


@dataclass(frozen=True, slots=True)
class Answer:
    """The writer's answer to one `WireAsk`."""

    status: Status
    body: bytes
    """DECIDED: the `DecisionOut` JSON; INVALID: the 422 body (`{"detail": [...]}`);
    FORBIDDEN: the 403 message, as UTF-8 text."""
    tier: Tier | None = None
    """The decision's tier; set exactly when `status` is DECIDED."""
    notice: Notice | None = None
    """Set for a notify or approve decision when the writer's spec says `notifying`."""
    summary: tuple[str, str, str, int | None] | None = None
    """DECIDED: (decision id, agent, action, ledger index or None when unrecorded), what
    the service's decision log names without parsing `body` again."""
    drift: DriftInput | None = None
    """A recorded decision's: what it shows the drift test (the service's drift sweep
    then does not read the entry back)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return Answer, (self.status, self.body, self.tier, self.notice, self.summary, self.drift)


@dataclass(frozen=True, slots=True)
class Ready:
    """The writer started: its ledger and envelope are open."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The writer could not start, or could not answer a group (nothing in it is
    confirmed)."""

    why: str


@dataclass(frozen=True, slots=True)
class Probe:
    """Asks the writer whether it could record a decision now. It checks that its store
    can be written (takes the write lock and rolls back) and records nothing."""


@dataclass(frozen=True, slots=True)
class Healthy:
    """The writer's answer to a `Probe` when its store can be written now (else
    `Failed`, with the reason)."""


Message = Ready | Failed | Healthy | list[Answer]
"""What the writer sends: `Ready` or `Failed` once at start, then per group or probe (in
the order they came) the group's answers in order, `Healthy`, or `Failed`."""

Request = list[WireAsk] | Probe | None
"""What the service sends: a group, a probe, or None to say stop."""


# -- service to writer: one pickled group or probe per message, None to stop-------------------


def encode_group(group: Request) -> bytes:
    """A group (or probe) as sent with `Connection.send_bytes`; None tells the writer to
    stop."""
    return pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)


def receive_group(conn: Connection) -> Request:
    """The next group (or probe) from the service; None once it says stop."""
    group: Request = pickle.loads(conn.recv_bytes())  # noqa: S301 (our own pipe)
    return group


# -- writer to service: length-prefixed frames ----------------------------------------------

_LENGTH = struct.Struct("!Q")


def send_frame(answers: Connection, message: Message) -> None:
    """One message: an 8-byte length, then the pickled message, written whole (the
    service reads answers without blocking its event loop, so they are framed here)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(payload)) + payload)
    while view:
        view = view[os.write(answers.fileno(), view) :]


class Frames:
    """Splits the answer stream back into messages, whatever sizes it arrives in."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self.buffer += data
        out: list[Message] = []
        while len(self.buffer) >= _LENGTH.size:
            (n,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + n
            if len(self.buffer) < end:
                break
            out.append(pickle.loads(self.buffer[_LENGTH.size : end]))  # noqa: S301 (our own pipe)
            del self.buffer[:end]
        return out
