"""On-disk cache of compiled artefacts: a key -> (payload bytes, metadata dict) store.

Input: a hex digest the caller computes from the specialization key (which already names the
target), the artefact bytes (native object code, later accelerator binaries) and a small
JSON-serialisable dict. Output: the same bytes and dict in a later process, or `None`.

Layout: `<root>/<version>/<key[:2]>/<key>.bin`, one file per entry, where `version` names the
compiler that wrote it, so entries of different compilers never meet. A file is

    header   magic b"JLCACHE\\0", format u16, reserved u16, meta length u32, payload length u64,
             sha256(key + meta + payload) 32 bytes, little-endian, 56 bytes in all
    meta     JSON, UTF-8
    payload  the artefact bytes

Concurrency: `put` writes a temporary file with a unique name in the entry's directory, fsyncs it
and renames it over the entry, so a reader sees the old file or the new one, never a mix; when
processes write the same key at once the last rename wins. The checksum covers the key, so a file
copied to another key's name is rejected too. Anything a reader cannot verify is a miss and is
deleted so the caller rebuilds it; a cache that cannot be written warns once and is skipped, since
compiling again is always correct.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"JLCACHE\0"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sHHIQ32s")

_KEY = re.compile(r"[0-9a-f]{2,128}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_SHARD = re.compile(r"[0-9a-f]{2}")
_ENTRY_NAME = re.compile(r"[0-9a-f]{2,128}\.bin")
_TEMP_NAME = re.compile(r"\.[0-9a-f]{2,128}\.[0-9]+\.[0-9a-f]+\.tmp")


class CacheWriteWarning(RuntimeWarning):
    """The disk cache could not be written; jitlang carries on without it."""


@dataclass(frozen=True)
class CacheStats:
    """Counters of one `DiskCache` object (this process) and what its version holds on disk."""

    hits: int
    misses: int
    corrupt: int  # entries found unreadable and deleted (also counted as misses)
    writes: int
    write_errors: int
    entries: int  # complete entries on disk for this version
    total_bytes: int  # their size, headers included


def _checksum(key: str, meta: bytes, payload: bytes) -> bytes:
    digest = hashlib.sha256(key.encode("ascii"))
    digest.update(meta)
    digest.update(payload)
    return digest.digest()


def encode_entry(key: str, payload: bytes, meta: dict) -> bytes:
    """The file contents for one entry; `TypeError` if `meta` is not JSON-serialisable."""
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8")
    header = HEADER.pack(
        MAGIC, FORMAT_VERSION, 0, len(meta_bytes), len(payload), _checksum(key, meta_bytes, payload)
    )
    return b"".join((header, meta_bytes, payload))


def decode_entry(key: str, data: bytes) -> tuple[bytes, dict] | None:
    """`(payload, meta)` from file contents, or `None` unless every check passes."""
    if len(data) < HEADER.size:
        return None
    magic, fmt, _reserved, meta_len, payload_len, checksum = HEADER.unpack_from(data)
    if magic != MAGIC or fmt != FORMAT_VERSION:
        return None
    if len(data) != HEADER.size + meta_len + payload_len:
        return None
    meta_end = HEADER.size + meta_len
    meta_bytes = data[HEADER.size : meta_end]
    payload = data[meta_end:]
    if _checksum(key, meta_bytes, payload) != checksum:
        return None
    try:
        meta = json.loads(meta_bytes)
    except ValueError:  # also UnicodeDecodeError
        return None
    if not isinstance(meta, dict):
        return None
    return payload, meta


class DiskCache:
    """Compiled artefacts of one compiler `version` under `root`, shared by processes.

    `get` and `put` never raise for the state of the disk: the worst outcome is a miss. They
    raise `ValueError` for a key that is not a lowercase hex digest (a caller bug, and the guard
    that keeps keys from naming paths outside the cache), and `put` raises `TypeError` for
    metadata that JSON cannot encode. Metadata round-trips through JSON: tuples come back as
    lists and dict keys as strings.
    """

    def __init__(self, root: Path, version: str) -> None:
        if not _VERSION.fullmatch(version):
            raise ValueError(
                f"cache version {version!r} must be 1-128 characters of letters, digits and ._+- "
                "starting with a letter or digit, e.g. '0.1.0+3f2a9c'"
            )
        self.root = Path(root)
        self.version = version
        self.directory = self.root / version
        self._hits = 0
        self._misses = 0
        self._corrupt = 0
        self._writes = 0
        self._write_errors = 0
        self._warned = False

    def __repr__(self) -> str:
        return f"DiskCache({str(self.root)!r}, {self.version!r})"

    def key_path(self, key: str) -> Path:
        """Where the entry for `key` lives: `<root>/<version>/<key[:2]>/<key>.bin`."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(
                f"cache key {key!r} must be a lowercase hex digest of 2-128 characters; "
                "use hashlib.sha256(...).hexdigest()"
            )
        return self.directory / key[:2] / (key + ".bin")

    def get(self, key: str) -> tuple[bytes, dict] | None:
        """`(payload, meta)` stored under `key`, or `None` if it is missing or damaged."""
        path = self.key_path(key)
        try:
            with open(path, "rb") as f:
                data = f.read()
                stat = os.fstat(f.fileno())
        except OSError:  # missing, or unreadable: both mean compile again
            self._misses += 1
            return None
        entry = decode_entry(key, data)
        if entry is None:
            self._misses += 1
            self._corrupt += 1
            self._discard(path, stat)
            return None
        self._hits += 1
        return entry

    def put(self, key: str, payload: bytes, meta: dict) -> None:
        """Store `payload` and `meta` under `key`, replacing any entry; skip if the disk fails."""
        path = self.key_path(key)
        data = encode_entry(key, bytes(payload), meta)
        temp = path.with_name(f".{key}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                with open(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as error:
            self._write_errors += 1
            self._warn(error)
            return
        self._writes += 1

    def clear(self, all_versions: bool = False) -> int:
        """Delete this version's entries (every version's if `all_versions`); return how many.

        Also removes temporary files left by writers that died mid-`put`. Only files named as this
        class names them are touched, so a cache root shared with other files is safe. Deletion is
        best effort: an entry another process writes meanwhile may survive.
        """
        versions = _subdirs(self.root, _VERSION) if all_versions else [self.directory]
        removed = 0
        for version_dir in versions:
            for shard in _subdirs(version_dir, _SHARD):
                for path, is_entry in _cache_files(shard):
                    try:
                        path.unlink()
                    except OSError:
                        continue
                    removed += is_entry
                with contextlib.suppress(OSError):  # fails if a writer just added a file
                    shard.rmdir()
            with contextlib.suppress(OSError):
                version_dir.rmdir()
        return removed

    def stats(self) -> CacheStats:
        """This object's hit/miss/write counters and the size of its version on disk."""
        entries = 0
        total = 0
        for shard in _subdirs(self.directory, _SHARD):
            for path, is_entry in _cache_files(shard):
                if is_entry:
                    with contextlib.suppress(OSError):
                        total += path.stat().st_size
                        entries += 1
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            corrupt=self._corrupt,
            writes=self._writes,
            write_errors=self._write_errors,
            entries=entries,
            total_bytes=total,
        )

    def _discard(self, path: Path, stat: os.stat_result) -> None:
        # Another process may have replaced the bad file with a good one since we read it; only
        # delete the file we judged. (A replace in the instant between the two calls loses a good
        # entry, which costs one recompilation.)
        with contextlib.suppress(OSError):
            now = os.stat(path)
            if (now.st_ino, now.st_dev, now.st_mtime_ns) == (
                stat.st_ino,
                stat.st_dev,
                stat.st_mtime_ns,
            ):
                os.unlink(path)

    def _warn(self, error: OSError) -> None:
        if self._warned:
            return
        self._warned = True
        warnings.warn(
            f"jitlang cannot write its kernel cache in {self.directory} ({error}); kernels will "
            "be compiled again in every process. Point JITLANG_CACHE_DIR at a writable directory, "
            "or set JITLANG_CACHE=0 to turn the disk cache off.",
            CacheWriteWarning,
            stacklevel=3,
        )


def _subdirs(parent: Path, pattern: re.Pattern[str]) -> list[Path]:
    try:
        with os.scandir(parent) as it:
            return [
                Path(e.path)
                for e in it
                if pattern.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return []


def _cache_files(shard: Path) -> list[tuple[Path, bool]]:
    """The entries (True) and leftover temporary files (False) in one shard directory."""
    try:
        with os.scandir(shard) as it:
            names = [e.name for e in it]
    except OSError:
        return []
    found = []
    for name in names:
        if _ENTRY_NAME.fullmatch(name):
            found.append((shard / name, True))
        elif _TEMP_NAME.fullmatch(name):
            found.append((shard / name, False))
    return found
