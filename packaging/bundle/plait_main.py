"""The bundle's `plait`: the same entry point as the wheel's console script."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
