"""Emulated memories and access-pattern resolution, with bounds and written-ness checks.

HBM is one byte array per device; SBUF and PSUM are [partitions, bytes] byte arrays per core,
each with a shadow array of written flags (one byte per byte) so that reads of never-written
on-chip memory are reported. Tiles and HBM patterns resolve to numpy strided views after every
element they touch has been bounds-checked; each access also yields the `MemRange` it covers.
"""

from __future__ import annotations

import itertools
import mmap

import numpy as np

from isa import dtypes
from isa.errors import OutOfBoundsError, TileShapeError, UninitializedReadError
from isa.machine import MachineConfig
from isa.operands import SPACE_PSUM, SPACE_SBUF, HbmAP, Tile
from isa.trace import MemRange, Space, strided_range

MAX_HBM_ELEMENTS = 1 << 25  # one access never moves more than a whole SBUF
_MAX_KNOWN = 64  # written rectangles an OnChip lists before it keeps only their bounding box
_NP = {int(d): dtypes.NUMPY[d] for d in dtypes.DType}
_SIZE = {d: t.itemsize for d, t in _NP.items()}
SPACES = tuple(Space)  # Space by its int value, without the enum call
_PATTERN = {1: np.uint8(1), 2: np.uint16(0x0101), 4: np.uint32(0x01010101)}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32}
_STAMPS = itertools.count()  # OnChip.version


class Hbm:
    """Device memory: one byte array plus the allocations (kernel arrays, data section) that
    accesses must stay inside, so that an overrun of one array is reported even when the next
    array follows it."""

    def __init__(self, data: np.ndarray, regions=None):
        self.data = data
        regions = sorted(regions) if regions is not None else [(0, data.shape[0], "HBM")]
        self.starts = [r[0] for r in regions]
        self.regions = regions

    def check(self, lo: int, hi: int, what: str) -> None:
        import bisect

        i = bisect.bisect_right(self.starts, lo) - 1
        if i >= 0:
            start, end, name = self.regions[i]
            if lo >= start and hi <= end:
                return
            if lo < end:
                raise OutOfBoundsError(
                    f"{what}: bytes {lo}:{hi} overrun {name} at {start}:{end} by {hi - end} bytes"
                )
        raise OutOfBoundsError(f"{what}: bytes {lo}:{hi} are outside every HBM allocation")


class OnChip:
    """One on-chip memory (SBUF or PSUM) of a core."""

    def __init__(self, space: int, partitions: int, nbytes: int):
        self.space = space
        self.name = "SBUF" if space == SPACE_SBUF else "PSUM"
        self.nbytes = nbytes
        self.shape = (partitions, nbytes)
        # `data` and `written` are made on first use: a timing-only run that never reads or
        # writes values (most of them) then never pays for their 2 x 24 MiB (SBUF)
        self._data: np.ndarray | None = None
        self._written: np.ndarray | None = None
        self._dirty = None  # bounding box of written flags set since the last reset
        # The rectangles written since the last reset (None: more than _MAX_KNOWN of them, then
        # the bounding box stands in): in timing-only emulation only iota/memset spills write,
        # and `forget` of a rectangle that meets none of them has nothing to clear.
        self._known: list | None = []
        # changes whenever the written flags may have: a `forget` just made, with no change
        # since, has nothing left to clear (unique over all OnChips: a stamp from one counter)
        self.version = next(_STAMPS)
        # Timing-only emulation's known-value writes not made yet, in order: (access, values).
        # Only a read needs them (`materialize`); a forget that covers one drops it, a reset
        # drops them all. `_wbox` bounds the written flags actually set.
        self.pending: list = []
        self._wbox = None

    @property
    def data(self) -> np.ndarray:
        """The bytes, [partitions, nbytes]."""
        if self._data is None:
            self._data = _zeroed(self.shape)
        return self._data

    @property
    def written(self) -> np.ndarray:
        """One flag per byte: 1 where something wrote it (see `TileAccess.check_written`)."""
        if self._written is None:
            self._written = _zeroed(self.shape)
        return self._written

    def reset_written(self) -> None:
        if self._wbox is not None:
            p0, p1, b0, b1 = self._wbox
            self.written[p0:p1, b0:b1] = 0
            self._wbox = None
        self._dirty = None
        self._known = []
        self.pending = []
        self.version = next(_STAMPS)

    def defer(self, access: TileAccess, values: np.ndarray) -> None:
        """`access.write(values)`, made when something reads this memory (see `pending`)."""
        r = access.range
        self._mark(r.p_start, r.p_start + r.p_count, r.start, r.end, real=False)
        self.pending.append((access, values))

    def materialize(self) -> None:
        """Make the deferred writes, in order."""
        pending, self.pending = self.pending, []
        for access, values in pending:
            TileAccess.write(access, values)

    def forget(self, p0: int, p1: int, b0: int, b1: int) -> None:
        """Mark bytes [p0:p1, b0:b1] unwritten (timing-only emulation: their values are not
        known). Cheap when the rectangle misses everything written since the last reset."""
        d = self._dirty
        if d is None or p1 <= d[0] or d[1] <= p0 or b1 <= d[2] or d[3] <= b0:
            return
        known = self._known
        if known is not None:
            for q0, q1, c0, c1 in known:
                if p0 < q1 and q0 < p1 and b0 < c1 and c0 < b1:
                    break
            else:
                return  # it meets none of them: every byte in it is unwritten already
            rest = []  # what stays of the written rectangles outside this one
            for k in known:
                q0, q1, c0, c1 = k
                if p1 <= q0 or q1 <= p0 or b1 <= c0 or c1 <= b0:
                    rest.append(k)
                    continue
                if q0 < p0:
                    rest.append((q0, p0, c0, c1))
                if p1 < q1:
                    rest.append((p1, q1, c0, c1))
                m0, m1 = max(q0, p0), min(q1, p1)
                if c0 < b0:
                    rest.append((m0, m1, c0, b0))
                if b1 < c1:
                    rest.append((m0, m1, b1, c1))
            self._known = rest if len(rest) <= _MAX_KNOWN else None
        if self.pending:  # those inside are dropped; any other overlap is made first
            keep = []
            for access, values in self.pending:
                r = access.range
                q0, q1 = r.p_start, r.p_start + r.p_count
                if not (p0 <= q0 and q1 <= p1 and b0 <= r.start and r.end <= b1):
                    keep.append((access, values))
            self.pending = keep
            if any(_meets(a.range, p0, p1, b0, b1) for a, _ in keep):
                self.materialize()
        w = self._wbox
        if w is not None and p0 < w[1] and w[0] < p1 and b0 < w[3] and w[2] < b1:
            self.written[p0:p1, b0:b1] = 0
        self.version = next(_STAMPS)

    def _mark(self, p0: int, p1: int, b0: int, b1: int, real: bool = True) -> None:
        self.version = next(_STAMPS)
        if real:
            w = self._wbox
            self._wbox = (
                (p0, p1, b0, b1)
                if w is None
                else (min(w[0], p0), max(w[1], p1), min(w[2], b0), max(w[3], b1))
            )
        d = self._dirty
        self._dirty = (
            (p0, p1, b0, b1)
            if d is None
            else (min(d[0], p0), max(d[1], p1), min(d[2], b0), max(d[3], b1))
        )
        known = self._known
        if known is not None:
            for q0, q1, c0, c1 in known:
                if q0 <= p0 and p1 <= q1 and c0 <= b0 and b1 <= c1:
                    return  # inside one already listed (a buffer written again)
            if len(known) >= _MAX_KNOWN:
                self._known = None
            else:
                known.append((p0, p1, b0, b1))


def _zeroed(shape: tuple[int, int]) -> np.ndarray:
    """A zeroed uint8 array from pages of its own: np.zeros of tens of MiB is calloc, which
    zeroes them byte by byte once glibc's mmap threshold has risen past their size (it does
    after the first such block is freed); fresh anonymous pages are zero, and only those
    touched are ever made."""
    buf = mmap.mmap(-1, shape[0] * shape[1], flags=mmap.MAP_PRIVATE)
    return np.frombuffer(buf, np.uint8).reshape(shape)


def _meets(r: MemRange, p0: int, p1: int, b0: int, b1: int) -> bool:
    return p0 < r.p_start + r.p_count and r.p_start < p1 and b0 < r.end and r.start < b1


def tile_extent(mem: OnChip, t: Tile, regs, partitions: int) -> tuple[int, int, int]:
    """Check a tile's placement; returns (first element, lowest, highest element touched) in
    units of the tile's dtype within each partition."""
    size = _SIZE[t.dtype]
    base = int(regs[t.reg]) + t.off
    nbytes = mem.nbytes
    lo = hi = 0  # the dims' reach below and above the first element
    free = 1
    for s, n in t.dims:  # one pass (runs once per engine instruction)
        if n == 0:
            raise TileShapeError(f"{_Where(mem.name, t)}: a free dim has size 0")
        free *= n
        step = (n - 1) * s
        if step < 0:
            lo += step
        else:
            hi += step
    if free > nbytes:
        raise TileShapeError(
            f"{_Where(mem.name, t)}: {free} free elements exceed the {nbytes} bytes of a partition"
        )
    if base % size:
        raise OutOfBoundsError(
            f"{_Where(mem.name, t)}: byte offset {base} is not aligned to {size} bytes"
        )
    if t.p0 + t.pn > partitions:
        raise OutOfBoundsError(
            f"{_Where(mem.name, t)}: partitions {t.p0}:{t.p0 + t.pn} exceed the {partitions} "
            "partitions"
        )
    e0 = base // size
    lo += e0
    hi += e0
    if lo < 0 or hi >= nbytes // size:
        raise OutOfBoundsError(
            f"{_Where(mem.name, t)}: bytes {lo * size}:{(hi + 1) * size} outside "
            f"0:{nbytes // size * size} of each partition"
        )
    return e0, lo, hi


class TileAccess:
    """A resolved tile: typed strided view [pn, n1, n2, n3] plus its checks and MemRange."""

    __slots__ = ("mem", "tile", "view", "wview", "range", "dtype", "pn", "free")

    def __init__(self, mem: OnChip, t: Tile, regs, partitions: int):
        dt = _NP[t.dtype]
        size = dt.itemsize
        e0, lo, hi = tile_extent(mem, t, regs, partitions)
        shape = (t.pn, *t.free_shape)
        strides = (mem.data.strides[0], *(s * size for s, _ in t.dims))
        offset = t.p0 * strides[0] + e0 * size  # bounds were checked above
        self.view = np.ndarray(shape, dt, buffer=mem.data, offset=offset, strides=strides)
        self.wview = np.ndarray(
            shape, _UINT[size], buffer=mem.written, offset=offset, strides=strides
        )
        self.mem, self.tile, self.dtype = mem, t, dt
        self.pn, self.free = t.pn, t.free_size
        self.range = MemRange(SPACES[mem.space], lo * size, (hi + 1) * size, t.p0, t.pn)

    def check_written(self) -> None:
        ok = self.wview == _PATTERN[self.dtype.itemsize]
        if not ok.all():
            idx = np.argwhere(~ok)[0]
            raise UninitializedReadError(
                f"{self.mem.name} tile {_tile_text(self.tile)} reads element "
                f"{tuple(int(i) for i in idx)} (partition {self.tile.p0 + int(idx[0])}) before "
                "anything wrote it"
            )

    def read(self) -> np.ndarray:
        """The tile's values as a contiguous [pn, free] array (checked for written-ness)."""
        self.check_written()
        return np.ascontiguousarray(self.view).reshape(self.pn, self.free)

    def write(self, values: np.ndarray) -> None:
        """Store [pn, free] values (already in the tile's dtype) and mark them written."""
        self.view[...] = values.reshape(self.view.shape)
        self.wview[...] = _PATTERN[self.dtype.itemsize]
        r = self.range
        self.mem._mark(r.p_start, r.p_start + r.p_count, r.start, r.end)


class DeferredTileAccess(TileAccess):
    """A `TileAccess` of timing-only emulation: writes (of known values: iota, memset) wait
    in `OnChip.pending` until a read of this memory needs them."""

    __slots__ = ()

    def check_written(self) -> None:
        self.mem.materialize()
        super().check_written()

    def write(self, values: np.ndarray) -> None:
        self.mem.defer(self, values)


class HbmAccess:
    """A resolved HBM pattern: shape, the valid box after bounds, optional address limit."""

    def __init__(self, hbm: Hbm, a: HbmAP, regs, what: str):
        self.dtype = dt = _NP[a.dtype]
        size = dt.itemsize
        self.size = size
        self.base = int(regs[a.reg]) + a.off
        strides, shape, box = [], [], []
        count = 1
        for s, n, b in a.dims:  # one pass (runs once per DMA)
            strides.append(s)
            shape.append(n)
            box.append(min(n, max(0, int(regs[b]))) if b else n)
            count *= n
        self.shape, self.strides, self.box = tuple(shape), tuple(strides), tuple(box)
        self.count = count  # elements of the whole pattern
        self.limit = int(regs[a.limit]) if a.limit else None
        self.hbm = hbm
        self.what = _What(what)
        if self.base % size:
            raise OutOfBoundsError(
                f"{self.what}: address {self.base} is not aligned to {size} bytes"
            )
        if 0 in shape:
            raise TileShapeError(f"{self.what}: a dim has size 0")
        if count > MAX_HBM_ELEMENTS:
            raise TileShapeError(
                f"{self.what}: {count} elements in one access (at most {MAX_HBM_ELEMENTS})"
            )

    def _addresses(self) -> np.ndarray:
        """Byte address of every element of the valid box (broadcast grid)."""
        addr = np.int64(self.base)
        for d, (s, n) in enumerate(zip(self.strides, self.box, strict=True)):
            shape = [1] * 4
            shape[d] = n
            addr = addr + (np.arange(n, dtype=np.int64) * s * self.size).reshape(shape)
        return np.broadcast_to(addr, self.box)

    def _check(self, lo: int, hi: int) -> None:
        self.hbm.check(lo, hi, self.what)

    def extent(self):
        """(lo, hi, mask or None) of the valid elements of the box in bytes, checked against
        the HBM allocations; None if no element is valid. `mask` (box-shaped, only when the
        address limit masks some elements) marks the valid ones."""
        if 0 in self.box:
            return None
        lo = hi = self.base
        size = self.size
        for s, n in zip(self.strides, self.box, strict=True):
            step = (n - 1) * s * size
            if step < 0:
                lo += step
            else:
                hi += step
        hi += size
        if self.limit is not None and lo + self.size > self.limit:
            return None
        if self.limit is None or hi <= self.limit:  # the limit masks nothing
            self._check(lo, hi)
            return lo, hi, None
        addr = self._addresses()
        mask = addr + self.size <= self.limit
        if not mask.any():
            return None
        valid = addr[mask]
        lo, hi = int(valid.min()), int(valid.max()) + self.size
        self._check(lo, hi)
        return lo, hi, (mask, valid)

    def select(self):
        """(view or None, mask or None, MemRange or None) for the valid elements of the box.

        Without an address limit the valid elements form the box, returned as a strided view.
        With a limit, `mask` (box-shaped) marks the valid ones and the view is replaced by their
        flat element indices."""
        ext = self.extent()
        if ext is None:
            return None, None, None
        lo, hi, masked = ext
        if masked is None:
            strides = tuple(s * self.size for s in self.strides)
            view = np.ndarray(
                self.box, self.dtype, buffer=self.hbm.data, offset=self.base, strides=strides
            )
            return view, None, self.range(lo, hi)
        mask, valid = masked
        return valid // self.size, mask, self.range(lo, hi)

    def range(self, lo: int, hi: int) -> MemRange:
        """The `MemRange` of the box's bytes within [lo, hi), with its period where it has one
        (so that interleaved but disjoint patterns do not order each other in the model)."""
        dims = tuple(zip(self.strides, self.box, strict=True))
        return strided_range(self.base, dims, self.size, lo, hi)

    def descriptors(self) -> int:
        """Number of contiguous chunks the pattern splits into (DMA descriptor count)."""
        run = 1
        for s, n in reversed(list(zip(self.strides, self.shape, strict=True))):
            if n == 1:
                continue
            if s == run:
                run *= n
            else:
                break
        return max(1, self.count // run)


def tile_descriptors(t: Tile) -> int:
    run = 1
    for s, n in reversed(t.dims):
        if n == 1:
            continue
        if s == run:
            run *= n
        else:
            break
    return t.pn * max(1, t.free_size // run)


class _What:
    """'HBM <what>' for error messages, formatted only when an error is raised."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __str__(self) -> str:
        return f"HBM {self.what}"


class _Where:
    """The tile's description for error messages, formatted only when an error is raised."""

    def __init__(self, space: str, t: Tile):
        self.space, self.t = space, t

    def __str__(self) -> str:
        return f"{self.space} tile {_tile_text(self.t)}"


def _tile_text(t: Tile) -> str:
    from isa.asm import fmt_tile

    return fmt_tile(t)


class CoreMemory:
    def __init__(self, config: MachineConfig):
        self.config = config
        self.sbuf = OnChip(SPACE_SBUF, config.partitions, config.sbuf_bytes_per_partition)
        self.psum = OnChip(SPACE_PSUM, config.partitions, config.psum_bytes_per_partition)

    def tile(self, t: Tile, regs, deferred: bool = False) -> TileAccess:
        """The tile's access; `deferred`: one whose writes wait for a read (`DeferredTileAccess`)."""
        mem = self.sbuf if t.space == SPACE_SBUF else self.psum
        return (DeferredTileAccess if deferred else TileAccess)(
            mem, t, regs, self.config.partitions
        )

    def reset(self) -> None:
        self.sbuf.reset_written()
        self.psum.reset_written()
