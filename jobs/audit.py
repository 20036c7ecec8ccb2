"""Entry point for `ray job submit`: write the audit report of scored outputs (the same command as `agiqa audit`).

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python jobs/audit.py --input s3://b/scored/ --output s3://b/report/ --group-by generator
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package, in working_dir

from agiqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["audit", *sys.argv[1:]]))
