"""Run every benchmark at its default (small) sizes; `make bench` calls this."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
#: small sizes for a quick run; each script's --help shows the full-size options
QUICK_ARGS = {
    "bench_query.py": ["--n", "10000"],
    "bench_search.py": ["--sizes", "10000"],
    "bench_features.py": ["--sizes", "10000"],
    "bench_storage.py": ["--quick"],
}


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n##### {script.name}", flush=True)
        command = [sys.executable, str(script), *QUICK_ARGS.get(script.name, [])]
        if subprocess.run(command, check=False).returncode:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
