"""Contract tooling: ABIs (encoding, decoding, errors), the Solidity compiler, compiled artifacts and Solidity-typed
command-line arguments; and the run files any member can write to, read and replaced safely (files)."""
