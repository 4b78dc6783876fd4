"""The project's errors. Each carries a message fit to show a user on one line."""


class PilotLedgerError(Exception):
    """Base of every error pilotledger raises on purpose."""


class ConfigError(PilotLedgerError):
    """A bad option, file or argument given by the user."""


class CompileError(PilotLedgerError):
    """The Solidity compiler is missing or rejected a source."""


class ArtifactError(PilotLedgerError):
    """A compiled artifact is missing, malformed or stale."""


class LedgerError(PilotLedgerError):
    """The ledger store or a chain invariant refused an operation."""
