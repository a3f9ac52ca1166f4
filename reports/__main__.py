"""`python -m reports [options]` (from the repository root): regenerate docs/RESULTS.md (`make results`)."""

import sys

from closecast.errors import exit_on_data_error
from reports.results import main

if __name__ == "__main__":  # not on a worker process's re-import of the main module
    with exit_on_data_error():  # e.g. a ticker not in the bundled sample: one line, exit code 2
        sys.exit(main())
