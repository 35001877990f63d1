"""The emulator: runs a binary over a grid of programs on the device's cores.

Input: a `Binary`, kernel argument values (int64: HBM addresses, ints, fp32 bit patterns), a grid
and a `MachineConfig`. Output: the effect on HBM plus, when recording, one `ExecRecord` per executed
instruction in each program's issue order (the timing model's input), as a `RecordStream`: a
template id per executed instruction (a sequencer instruction's is its pc), no object each.

Programs are spread round-robin over the cores and run one after another (functionally
sequential); each starts with zeroed registers and with its core's SBUF/PSUM marked unwritten.
Sequencer instructions run in the numba loop of `isa.sequencer`; engine instructions go to the
numpy handlers of `isa.engines`, found through the table's `handler` names.

`run(..., timing_only=True)` runs the same programs without tile data: engine instructions go to
the shape-only handlers of `isa.engines.shape_only`, which produce the same records (addresses,
sizes, dependencies, costs) and leave HBM untouched; see that module for what cannot be known
without data (a branch on a value loaded from a tile raises `TimingOnlyError`). Their results are
memoised per instruction and register values (`isa.shape_memo`): a loop body's engine
instructions cost a dictionary lookup after their first iteration, a record met again at the
same pc in the same program is the same object, and the memo serves the next run too when its
HBM allocations are the same (a kernel launched again). Memo hits run inside the sequencer's
compiled loop; Python handles the rest (see `isa.shape_memo`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from isa.binary import Binary
from isa.encoding import decode_prefix
from isa.engines import HANDLERS, Ctx
from isa.engines.shape_only import SHAPE_HANDLERS, ShapeCtx
from isa.errors import (
    ArgumentError,
    BudgetExceededError,
    EmulatorError,
    InvalidInstructionError,
    TimingOnlyError,
)
from isa.machine import MachineConfig, get_config
from isa.memory import CoreMemory, Hbm
from isa.sequencer import (
    C_NROWS,
    FP_KIND,
    ST_BAD_ARG,
    ST_BUDGET,
    ST_ENGINE,
    ST_HALT,
    ST_PC_RANGE,
    ST_TAINTED,
    ST_TRACE_FULL,
    ScalarCode,
)
from isa.shape_memo import ShapeMemo, ShapePlans
from isa.table import Uop
from isa.trace import CostKind, CostParams, Engine, RecordStream, StreamWriter, gc_paused

DEFAULT_BUDGET = 50_000_000

_BLAS = None  # threadpoolctl's controller of the loaded BLAS libraries, made on first use


def _one_blas_thread():
    """A context in which BLAS runs on one thread: the engines multiply [128, 512] tiles, too
    small to gain from threads, and a multi-threaded OpenBLAS spins for cores that other
    processes hold (a 256-matmul program took 1.6 s instead of 0.4 s with one core busy).
    Uses threadpoolctl when it is installed; a no-op otherwise."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS = False
        else:
            _BLAS = ThreadpoolController()
    if _BLAS is False:
        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


_TRACE = 1 << 16
_SEQ_PARAMS = CostParams()


class Emulator:
    """A loaded binary, ready to run grids. Decoding happens once, here."""

    def __init__(self, binary: Binary, config: str | MachineConfig = "nc-v2"):
        self.binary = binary
        self.config = get_config(config)
        self.instrs, self.decode_error = decode_prefix(binary.code)
        # the code words as an array, made with the decoding: timing-only planning groups
        # instructions by their words (`isa.plan_groups`) at the first timing-only run
        try:
            self.words = np.array(binary.code, np.uint64)
        except (OverflowError, TypeError, ValueError):  # not 64-bit words: planned one by one
            self.words = None
        self.code = ScalarCode.from_instrs(self.instrs)
        self.handlers, self.shape_handlers = [], []
        for ins in self.instrs:
            engine = ins.spec.uop == Uop.ENGINE
            self.handlers.append(HANDLERS.get(ins.spec.handler) if engine else None)
            self.shape_handlers.append(SHAPE_HANDLERS.get(ins.spec.handler) if engine else None)
        n = len(self.instrs)
        lines = list(binary.lines or [])[:n]
        self.lines = lines + [0] * (n - len(lines))
        self._cores: dict[int, CoreMemory] = {}
        self._plans = ShapePlans(n, self.lines)  # timing-only memo plans, made on first run
        self._memo: ShapeMemo | None = None  # the timing-only memo of the run going on
        self._kept_memo: ShapeMemo | None = None
        self._engine_mask = self.code.uop == int(Uop.ENGINE)
        self._engine_at = self._engine_mask.tolist()
        self._seq_bodies: dict = {}

    def core(self, i: int) -> CoreMemory:
        if i not in self._cores:
            self._cores[i] = CoreMemory(self.config)
        return self._cores[i]

    def release(self) -> None:
        """Drop the cores' SBUF/PSUM (tens of MiB each); the next run allocates them again.
        The timing-only memo stays, without its views of them."""
        self._cores.clear()
        if self._kept_memo is not None:
            self._kept_memo.drop_accesses()

    def _where(self, pc: int) -> tuple[str, int]:
        if 0 <= pc < len(self.instrs):
            return self.instrs[pc].mnemonic, self.lines[pc]
        return "", 0

    def _fault(self, err: EmulatorError, pc: int, program: int) -> EmulatorError:
        mn, line = self._where(pc)
        return err.locate(pc, mn, line, program, self.binary.file)

    def run(
        self,
        hbm: Hbm | np.ndarray,
        args: np.ndarray,
        grid: tuple[int, int, int],
        data_base: int = 0,
        record: bool = True,
        budget: int = DEFAULT_BUDGET,
        timing_only: bool = False,
        progress=None,
    ) -> tuple[RecordStream, int]:
        """Run every program of `grid`; returns (records, instructions executed).

        `timing_only`: compute addresses, sizes and dependencies but no tile data (HBM is
        neither read nor written; see the module docstring). `progress(done, total)`, if given,
        is called after each program."""
        if isinstance(hbm, np.ndarray):
            hbm = Hbm(hbm)
        gx, gy, gz = grid
        nprog = np.array([gx, gy, gz], np.int64)
        args = np.asarray(args, np.int64)
        records = StreamWriter(len(self.instrs))
        trace = np.empty(_TRACE if record else 1, np.int64)  # written before it is read
        left = budget
        memo = None
        if timing_only:  # the last run's memo if its HBM allocations are the same
            memo = self._kept_memo
            if memo is not None and memo.serves(hbm):
                memo.next_run()
            else:
                memo = self._kept_memo = ShapeMemo(self._plans, hbm)
        self._memo = memo
        if memo is not None:
            if not self._plans.all_planned:
                self._plans.plan_all(self.instrs, self._engine_mask, self.words)
            memo.start_run(records, self.config.dma_queues)
        blas = contextlib.nullcontext() if timing_only else _one_blas_thread()
        with blas, gc_paused():
            left = self._grid(
                hbm,
                args,
                grid,
                nprog,
                data_base,
                record,
                left,
                trace,
                records,
                timing_only,
                progress,
            )
        return records.finish(self._seq_body, self.lines), budget - left

    def _seq_body(self, pc: int) -> tuple:
        """The record body of the sequencer instruction at `pc` (one per mnemonic)."""
        mnemonic = self.instrs[pc].spec.mnemonic
        body = self._seq_bodies.get(mnemonic)
        if body is None:
            body = (mnemonic, Engine.SEQ, CostKind.SCALAR, _SEQ_PARAMS, (), ())
            self._seq_bodies[mnemonic] = body
        return body

    def _grid(
        self,
        hbm,
        args,
        grid,
        nprog,
        data_base,
        record,
        left,
        trace,
        records,
        timing_only,
        progress=None,
    ) -> int:
        gx, gy, gz = grid
        total = gx * gy * gz
        for z in range(gz):
            for y in range(gy):
                for x in range(gx):
                    program = x + gx * (y + gy * z)
                    core = program % self.config.cores
                    pid = np.array([x, y, z], np.int64)
                    left = self._program(
                        hbm,
                        args,
                        pid,
                        nprog,
                        program,
                        core,
                        data_base,
                        record,
                        left,
                        trace,
                        records,
                        timing_only,
                    )
                    if progress is not None:
                        progress(program + 1, total)
        return left

    def _program(
        self,
        hbm,
        args,
        pid,
        nprog,
        program,
        core,
        data_base,
        record,
        left,
        trace,
        records,
        timing_only=False,
    ) -> int:
        mem = self.core(core)
        mem.reset()
        regs = np.zeros(64, np.int64)
        taint = np.zeros(64, np.int64)
        if timing_only:
            ctx = ShapeCtx(mem, hbm, regs, self.config, taint, self.lines)
            handlers = self.shape_handlers
        else:
            ctx = Ctx(mem, hbm, regs, self.config)
            handlers = self.handlers
        memo = self._memo
        if memo is not None:
            memo.start_program()
        if record:
            records.program(program, core)
        tids = records.tids
        pc = 0
        instrs, lines = self.instrs, self.lines
        n = len(instrs)
        engine_at = self._engine_at
        # timing-only: the compiled loop runs the engine instructions it can find memoised
        fp = self._plans.fp if memo is not None else None
        ntrace = 0
        while True:
            if pc < n and engine_at[pc] and (fp is None or not fp[pc, FP_KIND]):
                status = ST_ENGINE  # straight-line engine code: no call into the sequencer
            else:
                tables = memo.tables(mem, records) if memo is not None else None
                pc, status, executed, ntrace = self.code.run(
                    pc, regs, taint, pid, nprog, args, data_base, left, trace, record, tables
                )
                left -= executed
                if tables is not None:  # compiled memo hits: template rows, deferred writes
                    memo.made_derived()
                    if record:
                        records.add_rows(tables[7], int(tables[8][C_NROWS]))
                    memo.made_defers(ctx)
            if record and ntrace:  # a sequencer instruction's pc, or an engine record's id
                tids.frombytes(trace[:ntrace].tobytes())
                ntrace = 0
            if status == ST_ENGINE:
                if timing_only and left > 0 and handlers[pc] is not None:
                    try:
                        pc, left = memo.run_block(ctx, pc, left, record, records, self)
                    except EmulatorError as e:
                        raise self._fault(e, memo.fault_pc, program) from None
                    except Exception as e:  # a bad binary must give an error, never a crash
                        raise self._fault(
                            EmulatorError(f"{type(e).__name__}: {e}"), memo.fault_pc, program
                        ) from None
                    continue
                if left <= 0:
                    raise self._fault(BudgetExceededError(self._budget_msg()), pc, program)
                left -= 1
                ins = instrs[pc]
                h = handlers[pc]
                if h is None:
                    mode = "timing-only " if timing_only else ""
                    raise self._fault(
                        InvalidInstructionError(f"no {mode}emulator handler for {ins.mnemonic}"),
                        pc,
                        program,
                    )
                try:
                    out = h(ctx, ins)
                except EmulatorError as e:
                    raise self._fault(e, pc, program) from None
                except Exception as e:  # a bad binary must give an error, never a crash
                    raise self._fault(
                        EmulatorError(f"{type(e).__name__}: {e}"), pc, program
                    ) from None
                if record:
                    records.add_engine(pc, ins.spec, out, lines[pc])
                pc += 1
            elif status == ST_HALT:
                return left
            elif status == ST_TRACE_FULL:
                continue
            elif status == ST_TAINTED:
                raise self._fault(TimingOnlyError(self._tainted_msg(pc, taint)), pc, program)
            elif status == ST_BUDGET:
                raise self._fault(BudgetExceededError(self._budget_msg()), pc, program)
            elif status == ST_BAD_ARG:
                raise self._fault(
                    ArgumentError(f"argument {self.code.imm[pc]} requested, {len(args)} passed"),
                    pc,
                    program,
                )
            elif status == ST_PC_RANGE:
                if pc == n and self.decode_error is not None:
                    raise self._fault(
                        InvalidInstructionError(f"invalid encoding: {self.decode_error}"),
                        pc,
                        program,
                    )
                if pc == n:
                    return left  # falling off the end halts
                raise self._fault(
                    InvalidInstructionError(
                        f"jump to instruction {pc}, outside the program's {n} instructions"
                    ),
                    pc,
                    program,
                )

    def _tainted_msg(self, pc: int, taint: np.ndarray) -> str:
        c = self.code
        src = max(int(taint[c.rd[pc]]), int(taint[c.rs1[pc]]), int(taint[c.rs2[pc]])) - 1
        mn, line = self._where(src)
        at = f"pc {src}" + (f", line {line}" if line else "")
        return (
            f"this branch depends on a value `{mn}` loaded from a tile ({at}): timing-only "
            "emulation computes no tile data, so it cannot follow data-dependent control flow; "
            "run this kernel numerically to time it"
        )

    @staticmethod
    def _budget_msg() -> str:
        return "the run executed its whole instruction budget (an endless loop?); raise budget="
