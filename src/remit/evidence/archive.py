"""The zip archive of an evidence pack, byte for byte deterministic: the manifest first,
then the files by name, every member deflated at one level, dated 1980-01-01 and readable
by all (0644). It is exactly the archive `zipfile` writes with those settings (a test holds
the two equal), but its members are deflated on two threads, or as they are made
(`MemberWriter`, hashing them at the same time): `zipfile` deflates one member at a time on
one core, and has no public way to add a member deflated elsewhere, so the container
(local headers, central directory, end record) is written here. An archive that
would need ZIP64 records (a member near 2 GiB, more than 65,535 members) is left to
`zipfile` whole. It reads nothing and knows nothing of what the files mean.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

MANIFEST = "manifest.json"
COMPRESS_LEVEL = 3
"""On a pack of 20,000 decisions (90 MB of files) level 3 takes half the time of zlib's
default level 6 and a third of level 9's, for an archive about 30% larger (8.7 MB against
6.7 and 6.6); level 1 is no faster."""

FilePart = bytes | memoryview
"""Bytes, or a read-only view of bytes (a large part is mapped from the file it was
written to)."""


@dataclass(frozen=True)
class Packed:
    """A file hashed, and deflated as the archive holds it unless only its digest is
    wanted, while it was made: its bytes are gone (a large pack's files are gigabytes, and
    on machines where touching fresh memory is dear, holding them cost more than making
    them)."""

    sha256: str
    size: int
    crc: int
    deflated: bytes | None


FileBody = bytes | tuple[FilePart, ...] | Packed
"""A pack file's bytes, whole or as consecutive parts (the pass's chunks, never joined: at
1,000,000 decisions joining them copied 3 GB and cost 5 s), or what is kept of it once
packed."""


class MemberWriter:
    """Packs one file from its consecutive parts: SHA-256, size, and (`deflate`) CRC-32 and
    the deflated bytes, made as `zipfile` makes them (deflate's output does not depend on
    how the input is cut); zlib and hashlib let go of the interpreter lock."""

    def __init__(self, deflate: bool) -> None:
        self._sha = hashlib.sha256()
        self._size = self._crc = 0
        self._deflater = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15) if deflate else None
        self._out: list[bytes] = []

    def write(self, part: FilePart) -> None:
        self._sha.update(part)
        self._size += len(part)
        if self._deflater is not None:
            self._crc = zlib.crc32(part, self._crc)
            self._out.append(self._deflater.compress(part))

    def close(self) -> Packed:
        if self._deflater is None:
            return Packed(self._sha.hexdigest(), self._size, 0, None)
        self._out.append(self._deflater.flush())
        return Packed(self._sha.hexdigest(), self._size, self._crc, b"".join(self._out))


def packed(body: FileBody, deflate: bool) -> Packed:
    """`body` hashed, and deflated if `deflate` (as it is if it already was)."""
    if isinstance(body, Packed) and (body.deflated is not None or not deflate):
        return body
    writer = MemberWriter(deflate)
    for part in parts_of(body):
        writer.write(part)
    return writer.close()


def parts_of(body: FileBody) -> tuple[FilePart, ...]:
    if isinstance(body, Packed):
        raise TypeError("a packed file's bytes are gone")
    return (body,) if isinstance(body, bytes) else body


def size_of(body: FileBody) -> int:
    if isinstance(body, Packed):
        return body.size
    return sum(len(part) for part in parts_of(body))


def fits_without_zip64(size: int) -> bool:
    """Whether a member of `size` bytes goes in the archive without ZIP64 records."""
    return size * 1.05 <= _LIMIT


_LIMIT = zipfile.ZIP64_LIMIT
_MAX_MEMBERS = 0xFFFF
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_VERSION = 20  # what zipfile writes as "made by" and "needed" for a deflated member
_UNIX = 3
_MODE = 0o644 << 16
_DOS_DATE = 1 << 5 | 1  # 1980-01-01, the earliest date a zip can hold
_DOS_TIME = 0


def member_order(files: Mapping[str, FileBody]) -> list[str]:
    return [MANIFEST, *sorted(n for n in files if n != MANIFEST)]


def to_zip(files: Mapping[str, FileBody]) -> bytes:
    """The archive of `files` (which must hold the manifest)."""
    names = member_order(files)
    if not fits_one_archive(files):
        return zipfile_archive(files)
    return _assemble(names, pack_files(files, deflate=True)) or zipfile_archive(files)


def fits_one_archive(files: Mapping[str, FileBody]) -> bool:
    """Whether `files` make an archive without ZIP64 records (by their sizes)."""
    sizes = [size_of(body) for body in files.values()]
    return len(sizes) <= _MAX_MEMBERS and all(fits_without_zip64(size) for size in sizes)


def pack_files(files: Mapping[str, FileBody], deflate: bool) -> dict[str, Packed]:
    """Every file packed (see `packed`), biggest first on two threads so both end together."""
    biggest_first = sorted(files, key=lambda n: -size_of(files[n]))
    with ThreadPoolExecutor(2) as pool:
        done = pool.map(lambda name: packed(files[name], deflate), biggest_first)
        return dict(zip(biggest_first, done, strict=True))


def _name(name: str) -> tuple[bytes, int]:
    """The name's bytes and flags, as `zipfile` encodes them (UTF-8 flagged when not ASCII)."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), 0x800


def _assemble(names: Sequence[str], deflated: Mapping[str, Packed]) -> bytes | None:
    """The container around deflated members; None where it would need ZIP64 records."""
    out = io.BytesIO()
    central = []
    for name in names:
        member = deflated[name]
        crc, size, data = member.crc, member.size, member.deflated
        assert data is not None, name
        raw, flags = _name(name)
        offset = out.tell()
        if offset > _LIMIT or len(data) > _LIMIT:
            return None
        out.write(_LOCAL.pack(b"PK\x03\x04", _VERSION, 0, flags, zipfile.ZIP_DEFLATED,
                              _DOS_TIME, _DOS_DATE, crc, len(data), size, len(raw), 0))  # fmt: skip
        out.write(raw)
        out.write(data)
        entry = _CENTRAL.pack(b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, flags,
                              zipfile.ZIP_DEFLATED, _DOS_TIME, _DOS_DATE, crc, len(data), size,
                              len(raw), 0, 0, 0, 0, _MODE, offset)  # fmt: skip
        central.append(entry + raw)
    start, directory = out.tell(), b"".join(central)
    if start > _LIMIT or len(directory) > _LIMIT:
        return None
    out.write(directory)
    out.write(_END.pack(b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), start, 0))
    return out.getvalue()


def zipfile_archive(files: Mapping[str, FileBody]) -> bytes:
    """The same archive written by `zipfile` alone, one member at a time (with the ZIP64
    records it adds where sizes or offsets need them). Packed files cannot go here: a pack
    packs files as they are made only when they fit without ZIP64."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as z:
        for name in member_order(files):
            body = files[name]
            large = size_of(body) * 1.05 > _LIMIT  # as writestr decides
            with z.open(name, "w", force_zip64=large) as out:  # dated 1980-01-01 (the default)
                for part in parts_of(body):
                    out.write(part)
            info = z.getinfo(name)  # the central directory is written on closing
            info.external_attr = _MODE
            info.create_system = _UNIX
    return buf.getvalue()
