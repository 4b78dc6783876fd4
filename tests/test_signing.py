"""The hand-written EIP-155 signer (kept for speed, see bench/hand_written.py) gives eth-account's bytes,
and the one decoder gives back what was signed."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account

from ledger.evm.signing import GAS_PRICE, Eip155Signer, decode_tx


@pytest.mark.parametrize("chain_id, nonce, to, data", [
    (1337, 0, b"\x22" * 20, b""),
    (31337, 7, b"\xab" * 20, bytes(range(256))),
    (2024, 2**40, b"", b"\x60\x00" * 50),  # a deployment
])
def test_signed_bytes_are_eth_accounts(chain_id, nonce, to, data):
    key = bytes(range(1, 33))
    fields, sender = Eip155Signer(chain_id).sign(key, nonce, to, data, 250_000)
    expected = Account.sign_transaction({"nonce": nonce, "gasPrice": GAS_PRICE, "gas": 250_000, "to": to,
                                         "value": 0, "data": data, "chainId": chain_id}, key)
    raw = rlp.encode(fields)
    assert raw == bytes(expected.raw_transaction)
    assert sender == bytes.fromhex(Account.from_key(key).address[2:])

    tx = decode_tx(raw)
    assert (tx.hash, tx.sender, tx.nonce, tx.to, tx.data) == (bytes(expected.hash), sender, nonce, to, data)


def test_a_damaged_transaction_does_not_decode_to_its_sender():
    key = bytes(range(1, 33))
    fields, sender = Eip155Signer(1337).sign(key, 1, b"\x22" * 20, b"\x01", 50_000)
    fields[5] = b"\x02"  # the data changed after signing
    try:
        recovered = decode_tx(rlp.encode(fields)).sender
    except Exception:  # noqa: BLE001 - no valid signature at all is as good a refusal
        return
    assert recovered != sender
