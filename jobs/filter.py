"""Entry point for `ray job submit`: filter scored shards by rules (the same command as `agiqa filter`).

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python jobs/filter.py --input s3://b/scored/ --output s3://b/selected/ --top-fraction quality_score=0.2
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package, in working_dir

from agiqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["filter", *sys.argv[1:]]))
