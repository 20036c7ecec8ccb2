"""Entry point for `ray job submit`: run `agiqa ingest` on the cluster's head, next to the data.

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python jobs/ingest.py --input s3://bucket/img2dataset/ --output s3://bucket/agiqa-input/

Ingest needs no Ray itself (it writes output shards on threads of this process, `--workers`); this
is the same command as `agiqa ingest`, run as a job's driver.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package, in working_dir

from agiqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
