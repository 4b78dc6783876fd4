"""pilotledger's command line, one module per command group: run (scenarios), scenario (your own),
verify (verify, audit), view, report, query (look-through), contracts (compile, contracts check |
build), transact (deploy, call, send, govern) and node; app holds the root group, --version and
main(), and common what they share (options, tables, the progress bar).

    pilotledger run scenario share_transfer        (installed: pip install -e .)
    python cli.py run scenario share_transfer       (from the source tree)
    python -m ledger.cli run scenario share_transfer

A bad argument or input gives one line on stderr and exit code 2; a failed verification or check
exits 1; nothing prints a traceback."""

from ledger.cli.app import cli, main

__all__ = ["cli", "main"]
