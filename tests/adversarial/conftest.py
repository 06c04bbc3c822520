"""Fixtures for the adversarial regressions: the grant tests' AWS world (a real moto
server and a Runtime on the STS backend, one per module) and its settable clock."""

from tests.grants.conftest import clock, wc, world

__all__ = ["clock", "wc", "world"]
