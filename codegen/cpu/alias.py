"""Which lazy loads a store could overwrite before it has read them (a CPU lowering helper).

Stage: codegen/cpu, used by `lower.CpuLowering` at each store. A lazy load feeding a store is
evaluated chunk by chunk inside the store's loop nest, so it reads memory the store's earlier
chunks may already have written. Triton's semantics read the whole block first. That is only
equivalent when both touch the same address for every element (`p[i] = f(p[i])`); a store through
a different pointer block into the same array (transposed, flipped, shifted) needs the loaded
block materialised first.

Pointer blocks are traced back to their root: the kernel parameter they offset (through
`ptr_add`, `splat`, `broadcast`, `expand_dims`, hints, pointer casts and loop-carried pointers
that only advance). Blocks rooted at different parameters are taken to address different arrays,
as Triton kernels assume of their distinct pointer arguments.
"""

from __future__ import annotations

from jitlang.ir import Function, Op, OpKind, Value, is_ptr, walk

_THROUGH = {
    OpKind.PTR_ADD,
    OpKind.SPLAT,
    OpKind.BROADCAST,
    OpKind.EXPAND_DIMS,
    OpKind.HINT,
    OpKind.CAST,
    OpKind.CONVERT_LAYOUT,
}


class StoreAliasing:
    def __init__(self, fn: Function) -> None:
        self.params = {a.id for a in fn.body.args}
        self.defs: dict[int, Op] = {}
        self.carried: dict[int, tuple[Value, Value]] = {}  # loop arg -> (init, yielded)
        for op in walk(fn.body):
            for r in op.results:
                self.defs[r.id] = op
            if op.kind is OpKind.FOR:
                body = op.regions[0]
                yields = body.terminator.operands if body.terminator is not None else []
                for arg, init, out in zip(body.args[1:], op.operands[3:], yields):
                    self.carried[arg.id] = (init, out)

    def root(self, v: Value, seen: frozenset[int] = frozenset()) -> Value | None:
        """The parameter `v` points into, or None when it cannot be traced."""
        while True:
            if v.id in self.params:
                return v
            if v.id in self.carried and v.id not in seen:
                init, out = self.carried[v.id]
                r = self.root(init, seen | {v.id})
                # a carried pointer stays in its array if each iteration only offsets it
                return r if r is not None and self.root(out, seen | {v.id}) in (r, v) else None
            if v.id in seen:
                return v  # the loop argument itself, reached from its own update
            op = self.defs.get(v.id)
            if op is None or op.kind not in _THROUGH:
                return None
            if op.kind is OpKind.CAST and not is_ptr(op.operands[0].type):
                return None  # an address made from an integer: any array
            v = op.operands[0]

    def may_clobber(self, load_ptr: Value, store_ptr: Value) -> bool:
        """True if storing through `store_ptr` chunk by chunk could change what a not yet
        evaluated chunk of the load through `load_ptr` reads."""
        if load_ptr is store_ptr:
            return False
        lr, sr = self.root(load_ptr), self.root(store_ptr)
        return lr is None or sr is None or lr is sr
