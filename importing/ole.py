"""Stream names of an OLE compound file (old .xls, or an encrypted .xlsx wrapped by Office)."""

from __future__ import annotations

import struct

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE
_MAX_REGULAR = 0xFFFFFFFA
_HEADER_DIFAT = 109
_ENCRYPTED_NAME = "EncryptedPackage".encode("utf-16-le")


class OleDamaged(ValueError):
    """The compound file's tables do not hold together."""


def stream_names(data: bytes) -> set[str]:
    """Names of all directory entries; OleDamaged when the file cannot be walked."""
    if len(data) < 512 or not data.startswith(OLE_MAGIC):
        raise OleDamaged("not a compound file")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise OleDamaged("bad sector size")
    size = 1 << shift
    sectors = (len(data) - size) // size + 1
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    first_difat, difat_count = struct.unpack_from("<II", data, 0x44)
    fat_sectors = _fat_sector_ids(data, size, sectors, first_difat, difat_count)
    fat: list[int] = []
    for sid in fat_sectors:
        fat.extend(struct.unpack_from(f"<{size // 4}I", data, _offset(sid, size, len(data))))
    names: set[str] = set()
    sid, steps = first_dir, 0
    while sid <= _MAX_REGULAR:
        steps += 1
        if steps > sectors or sid >= len(fat):
            raise OleDamaged("directory chain loops or leaves the file")
        base = _offset(sid, size, len(data))
        for entry in range(base, base + size, 128):
            length = struct.unpack_from("<H", data, entry + 64)[0]
            if 2 <= length <= 64 and data[entry + 66] in (1, 2, 5):
                names.add(data[entry : entry + length - 2].decode("utf-16-le", "replace"))
        sid = fat[sid]
    if sid != _END_OF_CHAIN:
        raise OleDamaged("directory chain does not end")
    return names


def is_encrypted_package(data: bytes) -> bool:
    """Office wraps a password-protected .xlsx in a compound file with this stream."""
    try:
        return "EncryptedPackage" in stream_names(data)
    except (OleDamaged, struct.error, IndexError):
        # A damaged directory still names its streams in UTF-16; look for the name itself.
        return _ENCRYPTED_NAME in data


def is_old_excel(data: bytes) -> bool:
    try:
        names = stream_names(data)
    except (OleDamaged, struct.error, IndexError):
        return False
    return bool(names & {"Workbook", "Book"})


def _fat_sector_ids(data: bytes, size: int, sectors: int, first: int, count: int) -> list[int]:
    ids = [s for s in struct.unpack_from(f"<{_HEADER_DIFAT}I", data, 0x4C) if s <= _MAX_REGULAR]
    sid, steps = first, 0
    while sid <= _MAX_REGULAR and steps < min(count, sectors):
        steps += 1
        entries = struct.unpack_from(f"<{size // 4}I", data, _offset(sid, size, len(data)))
        ids.extend(s for s in entries[:-1] if s <= _MAX_REGULAR)
        sid = entries[-1]
    if len(ids) > sectors:
        raise OleDamaged("more FAT sectors than sectors")
    return ids


def _offset(sid: int, size: int, length: int) -> int:
    offset = (sid + 1) * size
    if offset + size > length:
        raise OleDamaged("sector past the end of the file")
    return offset
