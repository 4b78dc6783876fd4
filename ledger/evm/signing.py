"""Signing transactions the way every engine sends them: legacy EIP-155 transactions at gas price 0
with explicit gas, signed straight through coincurve (py-evm's own path builds and validates an
unsigned transaction object first and signs through eth-keys, several times slower)."""

from __future__ import annotations

import rlp
from coincurve import PrivateKey
from eth_hash.auto import keccak

from ledger.trust.keys import address_of_public_key

# A permissioned chain charges no fee: base fee 0 and gas price 0, as on a free-gas Besu network.
# Gas is still metered and limited per transaction.
GAS_PRICE = 0


class Eip155Signer:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self._keys: dict[bytes, PrivateKey] = {}

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> tuple[list, bytes]:
        """The signed transaction's RLP fields (nonce, gas price, gas, to, value, data, v, r, s) and its sender."""
        key = self._keys.get(private_key)
        if key is None:
            key = self._keys[private_key] = PrivateKey(private_key)
        unsigned = rlp.encode([nonce, GAS_PRICE, gas, to, 0, data, self.chain_id, 0, 0])
        signature = key.sign_recoverable(keccak(unsigned), hasher=None)
        v = signature[64] + 35 + 2 * self.chain_id
        fields = [nonce, GAS_PRICE, gas, to, 0, data, v,
                  int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")]
        return fields, address_of_public_key(key.public_key)
