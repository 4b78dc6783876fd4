"""`python -m ledger.cli ...`"""

import sys

from ledger.cli.app import main

sys.exit(main(prog_name="python -m ledger.cli"))
