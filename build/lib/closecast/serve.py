"""`python -m closecast.serve`, what `make serve` and the container run; the server is `closecast.serving`."""

import sys

from closecast.serving.run import main

if __name__ == "__main__":
    sys.exit(main())
