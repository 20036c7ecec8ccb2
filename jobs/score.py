"""Entry point for `ray job submit`: score shards with the config given.

    ray job submit --address http://HEAD:8265 --working-dir . \
        --runtime-env-json '{"pip": ["agiqa"]}' -- python jobs/score.py --config jobs/score.example.yaml

Inside a Ray job, RAY_ADDRESS is set, so the driver connects to that cluster; flags override the
YAML exactly as for `agiqa score` (this is the same command, run as a job's driver).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package, in working_dir

from agiqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["score", *sys.argv[1:]]))
