"""The decision writer: a child process of the service that decides and records groups of
requests (the gate under the ledger's append lock, one durable transaction per group) and
answers each with the API's view of its decision.

Three parts: `wire` (what crosses the pipe: typed requests and answers, and the
framing), `child` (the writer process's loop) and `manager` (the service's side: start,
feed, restart). `answers` holds the screening and the answer both sides give. This
package only re-exports their public names.
"""

from remit.server.writer.answers import decided, screen, unrecorded_answer
from remit.server.writer.child import MAX_BATCH, decide_group, serve
from remit.server.writer.manager import (
    DEFAULT_DEADLINE,
    MAX_RETRY_SECONDS,
    DecisionWriter,
    WriterUnavailable,
)
from remit.server.writer.wire import (
    Answer,
    Healthy,
    Notice,
    Probe,
    Status,
    WireAsk,
    WriterSpec,
)

__all__ = [
    "DEFAULT_DEADLINE",
    "MAX_BATCH",
    "MAX_RETRY_SECONDS",
    "Answer",
    "DecisionWriter",
    "Healthy",
    "Notice",
    "Probe",
    "Status",
    "WireAsk",
    "WriterSpec",
    "WriterUnavailable",
    "decide_group",
    "decided",
    "screen",
    "serve",
    "unrecorded_answer",
]
