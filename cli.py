"""`python cli.py ...`: pilotledger's command line from a source tree; the same as the installed
`pilotledger` command and `python -m ledger.cli`. The commands live in ledger/cli/."""

import sys

from ledger.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_name="cli.py"))
