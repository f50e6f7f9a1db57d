"""Run as a separate process by the crash test: catches one projection up, slowly, in
small batches, so that a kill -9 lands in the middle of a batch."""

from __future__ import annotations

import sys

from guideledger.bootstrap import bootstrap


def main() -> None:
    ledger = bootstrap()
    ledger.projections.batch_size = int(sys.argv[2])
    print("ready", flush=True)
    ledger.projections.process(sys.argv[1])
    print("done", flush=True)


if __name__ == "__main__":
    main()
