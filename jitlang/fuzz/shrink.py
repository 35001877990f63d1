"""Fuzz shrinker: delta debugging over a kernel's statements and expressions.

Stage: test tooling. Input: a failing kernel module's source and a predicate `fails(source)`
that is true while the *same* failure (the same `Outcome.signature`) persists; output: a smaller
source for which it still holds. The kernel's signature is never touched, so the launch stays
valid; every candidate is checked by running it, so a cut that breaks typing is just rejected.

Passes, repeated until none makes progress (or the budget of runs is spent):
1. ddmin over the statements of each body (chunks, then single statements);
2. a compound statement (`for`/`while`/`if`) replaced by its body, an `if` by its `else`;
3. an expression replaced by one of its operands (`a + b` -> `a`, `f(x)` -> `x`,
   `x.to(t)` -> `x`) or by a small constant; keyword arguments (`mask=`, `other=`) dropped.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable

Edit = Callable[[ast.Module], bool]


class Shrinker:
    def __init__(self, fails: Callable[[str], bool], budget: int = 400) -> None:
        self.fails = fails
        self.budget = budget
        self.runs = 0

    def _try(self, tree: ast.Module) -> str | None:
        if self.runs >= self.budget:
            return None
        try:
            src = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
        except Exception:  # an edit produced a tree Python cannot print: not a candidate
            return None
        self.runs += 1
        return src if self.fails(src) else None

    def shrink(self, source: str) -> str:
        best = source
        while self.runs < self.budget:
            before = best
            best = self._statements(best)
            best = self._edits(best, _compound_edits)
            best = self._edits(best, _expression_edits)
            if best == before:
                break
        return best

    # -- ddmin over statement lists -------------------------------------------------------
    def _statements(self, source: str) -> str:
        tree = ast.parse(source)
        n_bodies = len(_bodies(tree))
        for bi in range(n_bodies):
            tree = ast.parse(source)
            bodies = _bodies(tree)
            if bi >= len(bodies):
                break
            size = len(bodies[bi])
            chunk = max(1, size // 2)
            while chunk >= 1:
                start = 0
                while start < size:
                    cand = ast.parse(source)
                    body = _bodies(cand)[bi]
                    keep = body[:start] + body[start + chunk :]
                    body[:] = keep or [ast.Pass()]
                    out = self._try(cand)
                    if out is not None:
                        source = out
                        bodies = _bodies(ast.parse(source))
                        if bi >= len(bodies):
                            return source
                        size = len(bodies[bi])
                    else:
                        start += chunk
                chunk //= 2
        return source

    # -- single edits, first-improvement --------------------------------------------------
    def _edits(self, source: str, enumerate_edits) -> str:
        i = 0
        while self.runs < self.budget:
            edits = enumerate_edits(ast.parse(source))
            if i >= len(edits):
                break
            cand = ast.parse(source)
            if not edits[i](cand):
                i += 1
                continue
            out = self._try(cand)
            if out is not None and out != source:
                source = out  # same index again: the edits after it shifted
            else:
                i += 1
        return source


def _kernel_defs(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)]


def _bodies(tree: ast.Module) -> list[list[ast.stmt]]:
    """Every statement list inside the module's functions, outermost first."""
    out = []
    for fn in _kernel_defs(tree):
        for node in ast.walk(fn):
            for name in ("body", "orelse"):
                body = getattr(node, name, None)
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                    out.append(body)
    return out


def _compound_edits(tree: ast.Module) -> list[Edit]:
    """Replace the k-th compound statement by its body (or else branch)."""
    n = 0
    edits = []
    for body in _bodies(tree):
        for s in body:
            if isinstance(s, (ast.For, ast.While, ast.If)):
                for branch in ("body", "orelse"):
                    if getattr(s, branch):
                        edits.append(_inline(n, branch))
                n += 1
    return edits


def _inline(k: int, branch: str) -> Edit:
    def edit(tree: ast.Module) -> bool:
        n = 0
        for body in _bodies(tree):
            for i, s in enumerate(body):
                if isinstance(s, (ast.For, ast.While, ast.If)):
                    if n == k:
                        body[i : i + 1] = getattr(s, branch)
                        return True
                    n += 1
        return False

    return edit


def _is_write(node: ast.AST) -> bool:
    f = node.func if isinstance(node, ast.Call) else None
    return isinstance(f, ast.Attribute) and (f.attr == "store" or f.attr.startswith("atomic_"))


def _expr_nodes(tree: ast.Module) -> list[ast.AST]:
    """Expressions inside the kernels' statements (not the signatures or decorators).

    The addresses and masks of stores and atomics are left alone: cutting `rm * N` to `rm`
    makes lanes write the same address, whose order is undefined, and the failure would slip
    to that instead of the bug being shrunk."""
    out = []
    for fn in _kernel_defs(tree):
        frozen: set[int] = set()
        names: set[str] = set()
        for node in ast.walk(fn):
            if _is_write(node) and node.args:
                for sub in [node.args[0], *(k.value for k in node.keywords if k.arg == "mask")]:
                    frozen.update(id(n) for n in ast.walk(sub))
                    names |= {n.id for n in ast.walk(sub) if isinstance(n, ast.Name)}
        # ... and the definitions of the names they use, transitively
        assigns = [n for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AugAssign))]
        grew = True
        while grew:
            grew = False
            for a in assigns:
                targets = a.targets if isinstance(a, ast.Assign) else [a.target]
                defined = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                if defined & names and id(a.value) not in frozen:
                    frozen.update(id(n) for n in ast.walk(a.value))
                    names |= {n.id for n in ast.walk(a.value) if isinstance(n, ast.Name)}
                    grew = True
        for stmt in fn.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.expr) and not isinstance(node, ast.Name):
                    if id(node) not in frozen:
                        out.append(node)
    return out


def _replacements(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Call):
        subs = list(node.args)
        if isinstance(node.func, ast.Attribute) and not (
            isinstance(node.func.value, ast.Name) and node.func.value.id == "tl"
        ):
            subs.insert(0, node.func.value)  # x.to(t) -> x
        return subs
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if node.value not in (0, 1):
            return [ast.Constant(type(node.value)(1)), ast.Constant(type(node.value)(0))]
    return []


def _expression_edits(tree: ast.Module) -> list[Edit]:
    edits: list[Edit] = []
    for k, node in enumerate(_expr_nodes(tree)):
        for j in range(len(_replacements(node))):
            edits.append(_replace_expr(k, j))
        if isinstance(node, ast.Call):
            for j, kw in enumerate(node.keywords):
                # without `other` a masked load's lanes are undefined, and a store without its
                # mask may write one address from two lanes: the failure would slip
                if kw.arg != "other" and not (kw.arg == "mask" and _is_write(node)):
                    edits.append(_drop_keyword(k, j))
    return edits


def _replace_expr(k: int, j: int) -> Edit:
    def edit(tree: ast.Module) -> bool:
        nodes = _expr_nodes(tree)
        if k >= len(nodes):
            return False
        target = nodes[k]
        new = copy.deepcopy(_replacements(target)[j])
        for parent in ast.walk(tree):
            for field, value in ast.iter_fields(parent):
                if value is target:
                    setattr(parent, field, new)
                    return True
                if isinstance(value, list):
                    for i, item in enumerate(value):
                        if item is target:
                            value[i] = new
                            return True
        return False

    return edit


def _drop_keyword(k: int, j: int) -> Edit:
    def edit(tree: ast.Module) -> bool:
        nodes = _expr_nodes(tree)
        if k >= len(nodes) or not isinstance(nodes[k], ast.Call):
            return False
        del nodes[k].keywords[j]
        return True

    return edit
