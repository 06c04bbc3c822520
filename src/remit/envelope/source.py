"""The envelope in force for a running process: loaded with its sign-offs, the gate compiled
from it, and reloaded when the envelope file or its sign-offs change."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from remit.decide import Gate
from remit.domain.trust import EnvelopeTrust
from remit.envelope.loader import LoadedEnvelope, load_envelope
from remit.envelope.signoff import SignoffCheck, check_signoffs, read_signoffs, signoffs_path
from remit.signing.keys import VerifierKey


@dataclass(frozen=True)
class EnvelopeView:
    """The envelope in force, its trust, and the gate compiled from it."""

    loaded: LoadedEnvelope
    trust: EnvelopeTrust
    checks: list[SignoffCheck]
    gate: Gate
    stamp: tuple[float, float]

    @cached_property
    def version(self) -> str:
        """Which envelope and which sign-offs this view was made from: it changes when
        either file changes (a sign-off removed leaves the envelope's digest as it was)."""
        return f"{self.loaded.digest}@{self.stamp[0]}:{self.stamp[1]}"


class EnvelopeSource:
    """Loads the envelope and its sign-offs, and reloads them when either file changes."""

    def __init__(self, path: Path, trusted: list[VerifierKey], insecure: bool) -> None:
        self.path = path
        self.trusted = trusted
        self.insecure = insecure
        self._lock = threading.Lock()
        self._view: EnvelopeView | None = None
        self._checked = 0.0

    def _stamp(self) -> tuple[float, float]:
        so = signoffs_path(self.path)
        return (
            self.path.stat().st_mtime_ns,
            so.stat().st_mtime_ns if so.exists() else 0.0,
        )

    RECHECK_SECONDS = 0.25

    def current(self, now: datetime, force: bool = False) -> EnvelopeView:
        """The view as of `now` (trust depends on time: future-dated sign-offs). The files
        are checked for changes at most every RECHECK_SECONDS."""
        view = self._view
        tick = time.monotonic()
        fresh = tick - self._checked < self.RECHECK_SECONDS
        if view is not None and view.trust.valid and fresh and not force:
            return view
        self._checked = tick
        stamp = self._stamp()
        with self._lock:
            view = self._view
            if view is None or view.stamp != stamp or not view.trust.valid:
                loaded = load_envelope(self.path)
                trust, checks = check_signoffs(
                    loaded, read_signoffs(signoffs_path(self.path)), self.trusted, now
                )
                if self.insecure and not trust.valid:
                    trust = EnvelopeTrust.insecure_unsigned()
                view = EnvelopeView(
                    loaded, trust, checks, Gate(loaded.envelope, loaded.digest, trust), stamp
                )
                self._view = view
            return view
