"""Transactions in their wire form, for every engine: signed as legacy EIP-155 transactions at gas
price 0 with explicit gas, and decoded by py-evm's transaction builder, the one decoder of the
engines and the audit.

Signing is hand-written, straight through coincurve, for speed: eth-account's sign_transaction
takes about 5 times as long and py-evm's builder (an unsigned transaction object validated, then
signed through eth-keys) 2 to 3 times (bench/hand_written.py); every transaction of every run is
signed. tests/test_signing.py holds it to eth-account's bytes."""

from __future__ import annotations

import rlp
from coincurve import PrivateKey
from eth.vm.forks.shanghai import ShanghaiVM
from eth_hash.auto import keccak

from ledger.evm.base import SignedTx
from ledger.trust.keys import address_of_public_key

# A permissioned chain charges no fee: base fee 0 and gas price 0, as on a free-gas Besu network.
# Gas is still metered and limited per transaction.
GAS_PRICE = 0

# Legacy transactions decode the same in every fork.
_BUILDER = ShanghaiVM.get_transaction_builder()


def decode_tx(raw: bytes) -> SignedTx:
    """A signed transaction from its wire form; the sender is recovered from its signature."""
    tx = _BUILDER.decode(raw)
    return SignedTx(raw, tx.hash, tx.sender, tx.nonce, tx.to, tx.data, tx)


class Eip155Signer:
    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self._keys: dict[bytes, tuple[PrivateKey, bytes]] = {}  # private key -> its coincurve key, its address

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> tuple[list, bytes]:
        """The signed transaction's RLP fields (nonce, gas price, gas, to, value, data, v, r, s) and its sender."""
        known = self._keys.get(private_key)
        if known is None:
            key = PrivateKey(private_key)
            known = self._keys[private_key] = key, address_of_public_key(key.public_key)
        key, sender = known
        unsigned = rlp.encode([nonce, GAS_PRICE, gas, to, 0, data, self.chain_id, 0, 0])
        signature = key.sign_recoverable(keccak(unsigned), hasher=None)
        v = signature[64] + 35 + 2 * self.chain_id
        fields = [nonce, GAS_PRICE, gas, to, 0, data, v,
                  int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")]
        return fields, sender
