"""The write path: a node submits a call, the gateway admits or refuses it (membership and the on-chain function-to-role
map, mirrored from the registry's sealed events), the engine executes the block, the validators seal it and the store
appends it. The ledger reader is the one read-only way into a ledger file."""
