"""The base of every ledger entry kind: the `Record` interface, index rows, the format
error, and the field checks every kind's constructor and parser use. Each kind is one
frozen typed class (in the sibling modules): what it records, its
JSON form (`to_data`, the entry's `data`), its parsing from stored JSON (`from_data`), and
the index rows a store derives from it (`index_rows`).

A constructor refuses invalid state (an empty id, a naive time, an unknown status), so
an invalid record cannot exist. Parsing reads entries written by every earlier release:
the JSON form of each kind is exactly what was written before these classes existed.
`docs/ledger.md` has a table per kind for auditors who read raw exports.

Pure: no I/O. Building the entry around a record (kind, time, actor, canonical bytes) is
`remit.ledger.records`; storing it is the stores'.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar, cast

from remit.domain.clock import parse_ts
from remit.domain.tiers import Tier

Json = dict[str, Any]
R = TypeVar("R", bound="Record")


class EntryFormatError(ValueError):
    """Stored JSON that is not a valid record of its kind (names the field)."""


@dataclass(frozen=True, slots=True)
class IndexRow:
    """A row of a derived index table (see `schema.INDEX_TABLES`)."""

    table: str
    values: tuple[object, ...]


class Record(ABC):
    """One entry kind. Subclasses are frozen dataclasses with a `KIND`."""

    __slots__ = ()
    KIND: ClassVar[str]

    @abstractmethod
    def to_data(self) -> Json:
        """The entry's `data` object, as it is written."""

    @classmethod
    @abstractmethod
    def from_data(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record from an entry's `data`; EntryFormatError names what is wrong."""

    def index_rows(self, idx: int, ts: str, actor: str) -> list[IndexRow]:
        """The rows a store keeps for this entry at index `idx` (none by default)."""
        return []


# -- field checks -------------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise EntryFormatError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _opt_text(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EntryFormatError(f"{name} must be a string or null, got {value!r}")
    return value


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise EntryFormatError(f"{name} must be a timezone-aware time, got {value!r}")
    return value


def _one_of(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise EntryFormatError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return cast(str, value)


def _field(data: Mapping[str, Any], name: str) -> Any:
    try:
        return data[name]
    except KeyError:
        raise EntryFormatError(f"missing field {name!r}") from None
    except TypeError:
        raise EntryFormatError(f"data must be an object, got {type(data).__name__}") from None


def _time(data: Mapping[str, Any], name: str) -> datetime:
    value = _field(data, name)
    try:
        return parse_ts(str(value))
    except ValueError as exc:
        raise EntryFormatError(f"{name}: {exc}") from None


def _mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EntryFormatError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _strings(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise EntryFormatError(f"{name} must be a list of strings, got {value!r}")
    return tuple(value)


_TIERS = tuple(t.value for t in Tier)
