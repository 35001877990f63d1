"""Fuzz worker process: runs cases sent by `jitlang.fuzz.runner` and answers with outcomes.

Stage: test tooling. Input (stdin, one JSON object a line): {"path", "module", "args", "grid",
"targets", "status"}; output (stdout, one JSON line each): an `Outcome`. A crash of LLVM or of
the emulator kills only this process; the parent reads the status file to learn which target
was running and starts a new worker.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever kernels or libraries print must not corrupt the protocol
    from .execute import execute, load_kernel

    for line in sys.stdin:
        req = json.loads(line)

        def status(t: str, path: str = req["status"]) -> None:
            with open(path, "w") as f:
                f.write(t)

        try:
            status("import")
            kernel = load_kernel(req["path"], req["module"])
            outcome = execute(
                kernel,
                req["args"],
                req["grid"],
                req["targets"],
                status,
                reference=req.get("reference", ""),
            ).to_json()
        except Exception as e:  # the module itself failed: a generator or shrinker product
            outcome = {
                "status": "invalid",
                "signature": f"invalid:{type(e).__name__}",
                "message": str(e)[:2000],
                "unsupported": {},
            }
        sys.modules.pop(req["module"], None)
        out.write(json.dumps(outcome) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
