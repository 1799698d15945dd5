"""The bundle's `plait-relay`: the same entry point as the wheel's console script."""

import sys

from crdt_store.sync.relay.server import main

if __name__ == "__main__":
    sys.exit(main())
