"""Dashboard sessions: a browser signs in once with an API key and then carries an opaque
session id in a cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). Each session has
its own CSRF token, which every form must send back.

Sessions live in the memory of one process (a restart signs everyone out; behind several
replicas, pin a browser to one). The key itself is never kept: the session remembers the
key's id and is checked against the key store on every request, so revoking the key ends
its sessions. Knows nothing of HTTP; the router sets the cookies.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from remit.identity.model import Identity

SESSION_COOKIE = "remit_session"
LOGIN_CSRF_COOKIE = "remit_login_csrf"
SESSION_LIFETIME = timedelta(hours=8)
IDLE_LIMIT = timedelta(minutes=30)
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One signed-in browser."""

    id: str
    identity: Identity
    csrf: str
    started: datetime
    last_seen: datetime

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, str(presented))


class SessionStore:
    """Sessions of one process, by id; expired ones are dropped when seen."""

    def __init__(
        self, lifetime: timedelta = SESSION_LIFETIME, idle: timedelta = IDLE_LIMIT
    ) -> None:
        self.lifetime = lifetime
        self.idle = idle
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def start(self, who: Identity, now: datetime) -> Session:
        """A new session for `who` (a fresh id: a session id is never reused)."""
        session = Session(secrets.token_urlsafe(32), who, secrets.token_urlsafe(32), now, now)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._drop_stale(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, now: datetime, touch: bool = True) -> Session | None:
        """The live session with this id, or None (unknown, expired or idle too long).
        `touch`: this is the person's doing (a page, a form), so the idle time restarts;
        a page's own background poll passes False and never keeps a session alive."""
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.started > self.lifetime or now - found.last_seen > self.idle:
                del self._sessions[session_id]
                return None
            if touch:
                found.last_seen = now
            return found

    def end(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.pop(session_id, None)

    def _drop_stale(self, now: datetime) -> None:
        for sid, s in list(self._sessions.items()):
            if now - s.started > self.lifetime or now - s.last_seen > self.idle:
                del self._sessions[sid]
