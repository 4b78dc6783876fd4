"""Contract tooling: ABIs (encoding, decoding, errors), the Solidity compiler, compiled artifacts and Solidity-typed
command-line arguments."""
