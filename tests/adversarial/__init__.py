"""Regression tests for findings of adversarial reviews."""
