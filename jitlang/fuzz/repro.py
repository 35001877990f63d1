"""Fuzz reproducers: shrink a failing case and write it as a file that runs with `python FILE`.

Stage: test tooling. Input: a `Runner`, a failing `Case` and its `Outcome`; output: the shrunk
source, a simplified launch, and a reproducer module: the kernel, its arguments with the array
bytes embedded (so it does not depend on the generator), and a `__main__` that runs the targets,
prints the outcome and exits 1 while the failure reproduces.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

from .execute import TARGET_ORDER, Outcome, launch_args
from .gen import Case
from .inputs import encode
from .runner import Runner
from .shrink import Shrinker


def failing_targets(case_targets, signature: str) -> tuple[str, ...]:
    """The fewest targets that show `signature`: the failing one and, for a mismatch, the
    reference it was compared with."""
    kind, _, rest = signature.partition(":")
    target = rest.split(":")[0]
    order = [t for t in TARGET_ORDER if t in case_targets]
    if kind == "mismatch":
        return (order[0], target)
    if kind in ("error", "crash", "hang") and target in order:
        return (target,)
    return tuple(order)


def shrink_case(runner: Runner, case: Case, outcome: Outcome, budget: int = 300):
    """(shrunk source, simplified case, targets, outcome) keeping `outcome.signature`."""
    sig = outcome.signature
    targets = failing_targets(runner.targets, sig)
    if runner.run(case, targets).signature != sig:
        targets = runner.targets  # the failure needs every target
    cur = case

    def fails(src: str, c: Case | None = None) -> bool:
        return runner.run_source(src, c or cur, targets).signature == sig

    # the launch first: fewer programs, no edge values
    for simpler in _simpler_launches(case):
        if fails(case.source, simpler):
            cur = simpler
    src = Shrinker(fails, budget).shrink(case.source)
    final = runner.run_source(src, cur, targets)
    return src, cur, targets, final


def _simpler_launches(case: Case):
    if any(g > 1 for g in case.grid):
        yield replace(case, grid=tuple(1 for _ in case.grid))
    for i, a in enumerate(case.args):
        if a["kind"] == "array" and a.get("edge", 0) > 0:
            args = [dict(x) for x in case.args]
            args[i]["edge"] = 0.0
            yield replace(case, args=args)


def reproducer_text(source: str, case: Case, targets, outcome: Outcome) -> str:
    args = []
    for spec, value in zip(case.args, launch_args(case.args)):
        spec = {k: v for k, v in spec.items() if k not in ("seed", "edge")}
        if spec["kind"] == "array":
            spec["data"] = encode(value)
        args.append(spec)
    msg = "\n".join(outcome.message.strip().splitlines()[-8:])
    msg = textwrap.indent(msg, "    ").replace("\\", "/").replace('"""', "...")
    doc = (
        f'"""Fuzz reproducer: {outcome.signature} (seed {case.seed}, family {case.family}).\n\n'
        f"{msg}\n\n"
        'Run: python FILE  (prints the outcome; exits 1 while the failure reproduces)\n"""\n\n'
    )
    tail = (
        f"\n\nARGS = json.loads({json.dumps(json.dumps(args))})\n"
        f"GRID = {tuple(case.grid)!r}\n"
        f"TARGETS = {tuple(targets)!r}\n"
        f"SIGNATURE = {outcome.signature!r}\n"
        f"REFERENCE = {case.reference!r}\n\n\n"
        "def check():\n"
        "    from jitlang.fuzz.execute import execute\n\n"
        "    return execute(kernel, ARGS, GRID, TARGETS, reference=REFERENCE)\n\n\n"
        'if __name__ == "__main__":\n'
        "    out = check()\n"
        '    print(out.signature or "pass")\n'
        "    print(out.message)\n"
        '    raise SystemExit(0 if out.status == "pass" else 1)\n'
    )
    # generated code keeps the kernel exactly as shrunk: unused values are part of it
    return "# ruff: noqa\n" + doc + "import json\n\n" + source.strip() + tail


def write_reproducer(path: Path, source: str, case: Case, targets, outcome: Outcome) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reproducer_text(source, case, targets, outcome))
    return path
