import sys

from agiqa.cli import main

sys.exit(main())
