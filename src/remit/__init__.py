"""Remit: an accountability layer for autonomous AI actions in the cloud."""
