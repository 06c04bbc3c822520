"""Local AWS for development and tests: a moto server process Remit starts itself
(`MotoServer`), and `bootstrap_agent_role`, which lays out in it the IAM shape Remit
expects — an agent execution role that a "remit" broker user may assume, and an agent user
whose own permissions are nearly nothing.

Nothing here talks to real AWS: every client made through `MotoServer` carries the local
endpoint URL.
"""

from remit.aws.moto_server import (
    DEFAULT_ACCOUNT_ID,
    MotoServer,
    MotoServerError,
    bootstrap_agent_role,
)

__all__ = ["DEFAULT_ACCOUNT_ID", "MotoServer", "MotoServerError", "bootstrap_agent_role"]
