"""`python -m closecast.predict`: local inference from the command line (`closecast.inference.predict`)."""

import sys

from closecast.inference.predict import main, predict_next_from_values

__all__ = ["main", "predict_next_from_values"]

if __name__ == "__main__":
    sys.exit(main())
