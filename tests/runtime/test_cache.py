"""Tests for runtime/cache.py: round trips, damaged entries, unwritable disks, many processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from runtime import cache as cache_module
from runtime.cache import HEADER, MAGIC, CacheWriteWarning, DiskCache, encode_entry

KEY = hashlib.sha256(b"kernel").hexdigest()
OTHER = hashlib.sha256(b"other kernel").hexdigest()
PAYLOAD = bytes(range(256)) * 40
META = {"name": "add_kernel", "num_warps": 4, "shared": 0, "args": ["fp32*", "i32"], "ok": True}


@pytest.fixture
def cache(tmp_path):
    return DiskCache(tmp_path / "cache", "0.1.0+abc")


def test_round_trip(cache):
    cache.put(KEY, PAYLOAD, META)
    assert cache.get(KEY) == (PAYLOAD, META)
    assert cache.key_path(KEY) == cache.root / "0.1.0+abc" / KEY[:2] / f"{KEY}.bin"
    assert cache.key_path(KEY).is_file()


def test_round_trip_edge_values(cache):
    cache.put(KEY, b"", {})
    assert cache.get(KEY) == (b"", {})
    cache.put(KEY, bytearray(b"\0\1"), {"t": (1, 2), "u": "µ"})
    assert cache.get(KEY) == (b"\0\1", {"t": [1, 2], "u": "µ"})  # JSON: tuples come back as lists


def test_put_replaces(cache):
    cache.put(KEY, b"old", {"v": 1})
    cache.put(KEY, b"new", {"v": 2})
    assert cache.get(KEY) == (b"new", {"v": 2})
    assert [p.name for p in cache.key_path(KEY).parent.iterdir()] == [f"{KEY}.bin"]


def test_missing_key(cache):
    assert cache.get(KEY) is None
    cache.put(OTHER, PAYLOAD, META)
    assert cache.get(KEY) is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.corrupt) == (0, 2, 0)


def test_stats(cache):
    cache.put(KEY, PAYLOAD, META)
    cache.put(OTHER, b"x", {})
    cache.get(KEY)
    cache.get("ab" * 32)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.entries) == (1, 1, 2, 2)
    assert (
        stats.total_bytes
        == cache.key_path(KEY).stat().st_size + cache.key_path(OTHER).stat().st_size
    )


@pytest.mark.parametrize("key", ["", "a", "ABCD", "../../etc/passwd", "ab/cd", "g" * 64, "a" * 129])
def test_bad_keys_are_rejected(cache, key):
    with pytest.raises(ValueError, match="lowercase hex digest"):
        cache.key_path(key)
    with pytest.raises(ValueError):
        cache.get(key)
    with pytest.raises(ValueError):
        cache.put(key, b"", {})


@pytest.mark.parametrize("version", ["", "a/b", "..", ".hidden", "x" * 129])
def test_bad_versions_are_rejected(tmp_path, version):
    with pytest.raises(ValueError, match="cache version"):
        DiskCache(tmp_path, version)


def test_unserialisable_meta_is_a_caller_error(cache):
    with pytest.raises(TypeError):
        cache.put(KEY, b"", {"f": object()})
    assert not cache.directory.exists() or not any(cache.directory.rglob("*.tmp"))


def _entry(meta_bytes: bytes, payload: bytes, key: str = KEY, **header) -> bytes:
    """An entry with a valid checksum over arbitrary metadata bytes; header fields overridable."""
    digest = hashlib.sha256(key.encode() + meta_bytes + payload).digest()
    fields = {"magic": MAGIC, "fmt": 1, "reserved": 0, "meta_len": len(meta_bytes)}
    fields |= {"payload_len": len(payload), "digest": digest} | header
    return HEADER.pack(*fields.values()) + meta_bytes + payload


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x40]) + data[index + 1 :]


GOOD = encode_entry(KEY, PAYLOAD, META)
CORRUPTIONS = {
    "empty file": b"",
    "garbage": os.urandom(4096),
    "truncated header": GOOD[: HEADER.size - 1],
    "truncated meta": GOOD[: HEADER.size + 5],
    "truncated payload": GOOD[:-1],
    "trailing bytes": GOOD + b"\0",
    "payload byte flipped": _flip(GOOD, len(GOOD) - 100),
    "meta byte flipped": _flip(GOOD, HEADER.size + 3),
    "checksum flipped": _flip(GOOD, HEADER.size - 1),
    "bad magic": _flip(GOOD, 0),
    "future format": _entry(b"{}", PAYLOAD, fmt=2),
    "meta length too long": _entry(b"{}", PAYLOAD, meta_len=2**31),
    "payload length wrong": _entry(b"{}", PAYLOAD, payload_len=len(PAYLOAD) - 1),
    "meta not json": _entry(b"{not json", PAYLOAD),
    "meta not utf-8": _entry(b'{"a": "\xff"}', PAYLOAD),
    "meta not a dict": _entry(b"[1, 2]", PAYLOAD),
    "another key's entry": encode_entry(OTHER, PAYLOAD, META),
}


@pytest.mark.parametrize("data", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupt_entry_is_a_miss_and_is_rebuilt(cache, data):
    path = cache.key_path(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.get(KEY) is None
    assert not path.exists()
    assert cache.stats().corrupt == 1
    assert cache.get(KEY) is None  # now merely missing
    assert cache.stats().corrupt == 1
    cache.put(KEY, PAYLOAD, META)
    assert cache.get(KEY) == (PAYLOAD, META)


def test_entry_that_is_a_directory_is_a_miss(cache):
    cache.key_path(KEY).mkdir(parents=True)
    assert cache.get(KEY) is None


def test_bad_file_replaced_after_read_is_kept(cache, monkeypatch):
    """A writer that replaced a damaged entry while we judged it keeps its good file."""
    path = cache.key_path(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    decode = cache_module.decode_entry

    def decode_while_another_process_writes(key, data):
        DiskCache(cache.root, cache.version).put(KEY, PAYLOAD, META)
        return decode(key, data)

    monkeypatch.setattr(cache_module, "decode_entry", decode_while_another_process_writes)
    assert cache.get(KEY) is None
    monkeypatch.undo()
    assert cache.get(KEY) == (PAYLOAD, META)


def test_unwritable_root_warns_once_and_does_not_raise(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    cache = DiskCache(blocker / "cache", "v1")  # mkdir fails even for root
    with pytest.warns(CacheWriteWarning, match="JITLANG_CACHE_DIR") as record:
        cache.put(KEY, PAYLOAD, META)
        cache.put(OTHER, PAYLOAD, META)
    assert len(record) == 1
    assert cache.get(KEY) is None
    stats = cache.stats()
    assert (stats.writes, stats.write_errors, stats.entries) == (0, 2, 0)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_warns(tmp_path):
    cache = DiskCache(tmp_path, "v1")
    tmp_path.chmod(0o500)
    try:
        with pytest.warns(CacheWriteWarning):
            cache.put(KEY, PAYLOAD, META)
    finally:
        tmp_path.chmod(0o700)


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_disk_full_leaves_no_temporary_file(cache, monkeypatch, failing):
    cache.put(KEY, b"old", {})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "write":
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full")
        monkeypatch.setattr(cache_module.os, "open", _opener_with_failing_write())
    else:
        monkeypatch.setattr(cache_module.os, failing, disk_full)
    with pytest.warns(CacheWriteWarning, match="No space left"):
        cache.put(KEY, PAYLOAD, META)
    monkeypatch.undo()
    assert cache.get(KEY) == (b"old", {})
    assert [p.name for p in cache.key_path(KEY).parent.iterdir()] == [f"{KEY}.bin"]


def _opener_with_failing_write():
    """`os.open` whose descriptor is /dev/full, where every write fails with ENOSPC."""
    real_open = os.open

    def opener(path, flags, mode=0o777):
        os.close(real_open(path, flags, mode))
        return real_open("/dev/full", os.O_WRONLY)

    return opener


def test_versions_are_separate(tmp_path):
    old = DiskCache(tmp_path, "0.1.0")
    new = DiskCache(tmp_path, "0.2.0")
    old.put(KEY, b"old", {"v": 1})
    assert new.get(KEY) is None
    new.put(KEY, b"new", {"v": 2})
    assert old.get(KEY) == (b"old", {"v": 1})
    assert new.get(KEY) == (b"new", {"v": 2})
    assert old.clear() == 1
    assert old.get(KEY) is None
    assert new.get(KEY) == (b"new", {"v": 2})


def test_clear(tmp_path):
    cache = DiskCache(tmp_path, "v1")
    other = DiskCache(tmp_path, "v2")
    for i in range(5):
        cache.put(hashlib.sha256(bytes([i])).hexdigest(), b"x", {})
    other.put(KEY, b"y", {})
    leftover = cache.key_path(KEY).with_name(f".{KEY}.123.abcdef.tmp")
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    assert cache.clear() == 5
    assert not leftover.exists() and not cache.directory.exists()
    assert cache.stats().entries == 0 and other.stats().entries == 1
    cache.put(KEY, b"z", {})
    assert cache.clear(all_versions=True) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert cache.clear() == 0  # nothing left, and no error
    cache.put(KEY, b"again", {})
    assert cache.get(KEY) == (b"again", {})


# --- several processes at once ---------------------------------------------------------------

SHARED_KEYS = [hashlib.sha256(f"shared{i}".encode()).hexdigest() for i in range(3)]


def _payload(key: str, writer: int, i: int) -> bytes:
    # Lengths differ from put to put, so a torn file could not pass the length check by luck.
    return hashlib.sha256(f"{key}{writer}{i}".encode()).digest() * (
        200 + 37 * ((writer * 7 + i) % 50)
    )


def _check(key: str, entry: tuple[bytes, dict]) -> None:
    payload, meta = entry
    assert meta["key"] == key
    assert meta["sha256"] == hashlib.sha256(payload).hexdigest()
    assert payload == _payload(key, meta["writer"], meta["i"])


def _writer(root: str, writer: int, puts: int) -> list[str]:
    cache = DiskCache(Path(root), "v1")
    own = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(puts):
            key = SHARED_KEYS[i % len(SHARED_KEYS)]
            if i % 2:
                key = hashlib.sha256(f"own{writer}-{i}".encode()).hexdigest()
                own.append(key)
            payload = _payload(key, writer, i)
            meta = {"key": key, "writer": writer, "i": i}
            cache.put(key, payload, meta | {"sha256": hashlib.sha256(payload).hexdigest()})
            entry = cache.get(key)  # ours, or a later writer's: complete either way
            assert entry is not None
            _check(key, entry)
    return own


def _reader(root: str, done: str) -> int:
    cache = DiskCache(Path(root), "v1")
    seen = 0
    deadline = time.monotonic() + 10
    while not os.path.exists(done) and time.monotonic() < deadline:
        for key in SHARED_KEYS:
            entry = cache.get(key)
            if entry is not None:
                _check(key, entry)
                seen += 1
    assert cache.stats().corrupt == 0
    return seen


def test_concurrent_writers_and_readers(tmp_path):
    root = str(tmp_path / "cache")
    done = str(tmp_path / "done")
    writers, puts, readers = 4, 50, 2
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers + readers, mp_context=context) as pool:
        reading = [pool.submit(_reader, root, done) for _ in range(readers)]
        writing = [pool.submit(_writer, root, w, puts) for w in range(writers)]
        try:
            own_keys = [key for future in writing for key in future.result()]
        finally:
            Path(done).touch()  # stops the readers even if a writer failed
        seen = [future.result() for future in reading]
    assert sum(seen) > 0
    cache = DiskCache(Path(root), "v1")
    for key in SHARED_KEYS + own_keys:
        entry = cache.get(key)
        assert entry is not None
        _check(key, entry)
    assert cache.stats().entries == len(SHARED_KEYS) + writers * puts // 2
    assert not list(Path(root).rglob("*.tmp"))


def test_file_format_is_documented():
    assert HEADER.size == 56
    header = HEADER.unpack_from(GOOD)
    assert header[:5] == (MAGIC, 1, 0, len(json.dumps(META, separators=(",", ":"))), len(PAYLOAD))
