"""Small helpers for the readable sentences in reasons."""

from __future__ import annotations


def article(word: str) -> str:
    """'An' before a vowel sound, else 'A'."""
    return "An" if word[:1].lower() in "aeiou" else "A"
