"""Command line of the accelerator package.

    python -m isa asm KERNEL.s -o KERNEL.bin          assemble
    python -m isa disasm KERNEL.bin                   disassemble (canonical text)
    python -m isa run KERNEL.{s,bin} --arg ... [--grid 4,1,1] [--config nc-v3] [--dump i]
    python -m isa profile KERNEL.{s,bin} --arg ... [--json] [--trace out.json] [--plot out.png]
                                          [--timing-only] [--compare nc-v3]
    python -m isa example NAME [--config GEN] [--json] [--trace out.json] [--plot out.png]
    python -m isa spec [-o SPEC.md]                   regenerate the ISA reference

Arguments for run/profile: integers (`42`), floats (`1.5`), or arrays `DTYPE:N[xM...]` filled with
random values (`f32:1024`, `bf16:128x512`), `zeros:DTYPE:SHAPE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _load(path: str):
    from isa.asm import assemble
    from isa.binary import Binary

    p = Path(path)
    data = p.read_bytes()
    if data[:8] == b"JLISABIN":
        return Binary.from_bytes(data)
    return assemble(data.decode(), file=p.name)


def _arg(text: str, rng: np.random.Generator, zeros: bool = False):
    from isa import dtypes

    zeros = zeros or text.startswith("zeros:")
    if text.startswith("zeros:"):
        text = text[6:]
    if ":" in text:
        dt_name, shape_text = text.split(":", 1)
        dt = dtypes.np_dtype(dtypes.BY_NAME[dt_name])
        shape = tuple(int(s) for s in shape_text.split("x"))
        if zeros:
            return np.zeros(shape, dt)
        if dt.kind in "iu":
            return rng.integers(0, 100, shape).astype(dt)
        return rng.standard_normal(shape).astype(np.float32).astype(dt)
    try:
        return int(text, 0)
    except ValueError:
        return float(text)


def _grid(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _emit_profile(res, args) -> None:
    prof = res.profile
    if args.json:
        print(json.dumps(res.summary(), indent=1))
    else:
        print(prof.format())
    if getattr(args, "trace", None):
        prof.write_chrome_trace(args.trace)
    if getattr(args, "plot", None):
        prof.plot(args.plot)


def cmd_asm(args) -> int:
    b = _load(args.source)
    out = Path(args.output or Path(args.source).with_suffix(".bin"))
    out.write_bytes(b.to_bytes())
    print(f"{out}: {len(b.code)} words, {len(b.args)} args, {len(b.data)} data bytes")
    return 0


def cmd_disasm(args) -> int:
    from isa.asm import disassemble

    sys.stdout.write(disassemble(_load(args.binary)))
    return 0


def _run(args, profile: bool):
    from isa.runner import run

    rng = np.random.default_rng(args.seed)
    timing_only = getattr(args, "timing_only", False)  # no data: arrays need no values
    kargs = [_arg(a, rng, timing_only) for a in args.arg]
    res = run(
        _load(args.program),
        kargs,
        _grid(args.grid),
        config=args.config,
        profile=profile,
        budget=args.budget,
        timing_only=timing_only,
    )
    return res, kargs


def cmd_run(args) -> int:
    res, kargs = _run(args, profile=False)
    print(f"ran {res.instructions} instructions in {res.wall_s:.3f} s")
    for i in args.dump:
        print(f"arg {i}:\n{kargs[i]}")
    return 0


def cmd_profile(args) -> int:
    res, _ = _run(args, profile=True)
    if not args.compare:
        _emit_profile(res, args)
        return 0
    from isa.profile import Comparison

    profiles = [res.profile]
    for name in args.compare:
        args.config = name
        profiles.append(_run(args, profile=True)[0].profile)
    comp = Comparison(profiles)
    print(json.dumps(comp.summary(), indent=1) if args.json else comp.format())
    return 0


def cmd_example(args) -> int:
    from isa.examples import EXAMPLES, run_example

    if args.name not in EXAMPLES:
        print(f"unknown example {args.name!r}; known: {', '.join(EXAMPLES)}", file=sys.stderr)
        return 2
    r = run_example(args.name, config=args.config, seed=args.seed)
    res = r.result
    if args.json:
        s = res.summary()
        s.update(
            example=r.name,
            verified=r.verified,
            max_error=r.max_error,
            emulator_wall_s=res.wall_s,
            emulated_instructions=res.instructions,
        )
        print(json.dumps(s, indent=1))
    else:
        status = "verified" if r.verified else "MISMATCH"
        print(
            f"{r.name}: {status} against numpy (max abs error {r.max_error:.3g}); "
            f"{res.instructions} instructions emulated in {res.wall_s:.3f} s"
        )
        print(res.profile.format())
    if args.trace:
        res.profile.write_chrome_trace(args.trace)
    if args.plot:
        res.profile.plot(args.plot)
    return 0 if r.verified else 1


def cmd_spec(args) -> int:
    from isa.spec import SPEC_PATH, write

    print(write(Path(args.output) if args.output else SPEC_PATH))
    return 0


def main(argv=None) -> int:
    from isa.errors import IsaError

    p = argparse.ArgumentParser(prog="python -m isa", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("asm", help="assemble a .s file")
    a.add_argument("source")
    a.add_argument("-o", "--output")
    a.set_defaults(fn=cmd_asm)
    d = sub.add_parser("disasm", help="disassemble a binary")
    d.add_argument("binary")
    d.set_defaults(fn=cmd_disasm)
    for name, fn in (("run", cmd_run), ("profile", cmd_profile)):
        r = sub.add_parser(name, help=f"{name} a program (.s or .bin)")
        r.add_argument("program")
        r.add_argument("--arg", action="append", default=[], help="int, float or DTYPE:SHAPE")
        r.add_argument("--grid", default="1")
        r.add_argument("--config", default="nc-v2")
        r.add_argument("--seed", type=int, default=0)
        r.add_argument("--budget", type=int, default=50_000_000)
        if name == "run":
            r.add_argument("--dump", type=int, action="append", default=[])
        else:
            r.add_argument("--json", action="store_true")
            r.add_argument("--trace")
            r.add_argument("--plot")
            r.add_argument(
                "--timing-only",
                action="store_true",
                help="time addresses, sizes and dependencies without computing tile data",
            )
            r.add_argument(
                "--compare",
                action="append",
                default=[],
                metavar="CONFIG",
                help="also run on this machine config and print the configs side by side",
            )
        r.set_defaults(fn=fn)
    e = sub.add_parser("example", help="run a built-in example, check it, print its profile")
    e.add_argument("name")
    e.add_argument("--config", default="nc-v2")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true")
    e.add_argument("--trace")
    e.add_argument("--plot")
    e.set_defaults(fn=cmd_example)
    s = sub.add_parser("spec", help="regenerate isa/SPEC.md")
    s.add_argument("-o", "--output")
    s.set_defaults(fn=cmd_spec)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except IsaError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
