"""davbench with the server's memory after every phase (issue 18, memory).

    python scripts/memory/phases.py --pid PID run URL --user admin --password admin --pid PID ...

runs `../shared/bench/davbench.py run ...` and prints, after each phase, VmRSS, VmHWM and RssAnon
of PID (MiB, from /proc/PID/status), in the order `make bench` runs the phases on one server.
`OCIS_SHARED_DIR` names the shared folder (default: ../shared beside the repository).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("OCIS_SHARED_DIR") or REPO.parent / "shared")
FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def memory(pid: int) -> dict[str, float]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in FIELDS:
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[1] != "--pid":
        sys.exit(__doc__)
    pid, args = int(sys.argv[2]), sys.argv[3:]
    sys.path.insert(0, str(SHARED / "bench"))
    import davbench  # noqa: PLC0415  (the shared harness, found at run time)

    phase_end = davbench.Bench.phase_end

    def measured(self: object, name: str, start: object, extra: object) -> object:
        record = phase_end(self, name, start, extra)
        print(f"MEM {name:<14} {json.dumps(memory(pid))}", file=sys.stderr, flush=True)
        return record

    davbench.Bench.phase_end = measured
    print(f"MEM {'start':<14} {json.dumps(memory(pid))}", file=sys.stderr, flush=True)
    davbench.main(args)


if __name__ == "__main__":
    main()
