"""``python -m ovms_bench``."""

import sys

from ovms_bench.cli import main

sys.exit(main())
