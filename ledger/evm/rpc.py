"""The rpc engine: the same blocks on a real node over Ethereum JSON-RPC (Hardhat, Anvil, Besu,
GoQuorum, FISCO BCOS's web3 gateway), the way a pilot moves to a multi-machine consortium.

Transactions are signed here, as the embedded engine signs them (EIP-155, gas price 0, explicit
gas), with the node's chain id. A batch is one block. A node that mines on request (Hardhat,
Anvil) has automine turned off, takes the batch, and mines it with `evm_mine` at the requested
timestamp; a node that mines on its own (Besu QBFT) must put the whole batch in its next block,
stamped with the network's clock. Either way the block must hold exactly the batch, in order, on
top of the previous head, and its header, rebuilt from JSON, must hash to the block hash."""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import rlp
from eth_hash.auto import keccak
from eth_utils import decode_hex as _bytes  # 0x-hex (or bare hex) text to bytes

from ledger.errors import ConfigError, LedgerError
from ledger.evm.base import ExecutedBlock, Log, SignedTx, TxOutcome
from ledger.evm.signing import Eip155Signer, decode_tx
from ledger.evm.jsonrpc import JsonRpcClient, NodeUnreachable, RpcError

RECEIPT_WAIT = 120.0  # seconds a self-mining network may take to include a batch
POLL_INTERVAL = 0.2

# The header as RLP lists it; the fields after "nonce" exist from the fork that added them on.
_HEADER = ("parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
           "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce")
_LATER_HEADER = ("baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
                 "requestsHash")
_INTEGERS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed",
             "excessBlobGas"}
NO_TRACE_DETAIL = {"disableStorage": True, "disableMemory": True, "disableStack": True}


class RpcEngine:
    name = "rpc"

    def __init__(self, url: str, genesis_timestamp: int | None) -> None:
        """The engine on the node at `url`, for a new chain starting at `genesis_timestamp`, or, with None,
        for reading the blocks of a chain already run there (the audit)."""
        self.url = url
        self._rpc = JsonRpcClient(url)
        try:
            chain_id, latest, automine = self._rpc.batch_responses(
                [("eth_chainId", []), ("eth_getBlockByNumber", ["latest", False]), ("evm_setAutomine", [False])])
        except NodeUnreachable as exc:
            raise ConfigError(str(exc)) from None
        if "result" not in chain_id or "result" not in latest:
            raise ConfigError(f"{url} is not an Ethereum JSON-RPC endpoint: {chain_id.get('error')}")
        self.chain_id = int(chain_id["result"], 16)
        # Hardhat and Anvil mine on request; a node without evm_setAutomine mines on its own.
        self.mines_on_request = "result" in automine
        self._head = _executed(latest["result"], ())
        if genesis_timestamp is not None and self._head.timestamp >= genesis_timestamp:
            raise ConfigError(
                f"the node at {url} is at block {self._head.number}, dated {self._head.timestamp}, not before the "
                f"scenario's genesis time {genesis_timestamp}: start a fresh node whose genesis is earlier "
                "(the dev node's initialDate is 2021-01-01); a network that stamps blocks with its own clock "
                "cannot run scenarios dated in the past")
        self._signer = Eip155Signer(self.chain_id)

    # ------------------------------------------------------------- transactions

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx:
        fields, sender = self._signer.sign(private_key, nonce, to, data, gas)
        raw = rlp.encode(fields)
        return SignedTx(raw, keccak(raw), sender, nonce, to, data, None)

    decode = staticmethod(decode_tx)

    # ------------------------------------------------------------------ blocks

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int) -> ExecutedBlock:
        parent = self._head
        if self.mines_on_request and timestamp <= parent.timestamp:
            raise LedgerError(f"block timestamp {timestamp} is not after its parent's {parent.timestamp}")
        hashes = [tx.hash for tx in txs]
        # One request per transaction, not a batch: Hardhat serves a batch's requests concurrently, so its
        # mempool would take them out of order.
        for tx in txs:
            try:
                self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
            except RpcError as exc:
                raise LedgerError(f"the node refused transaction 0x{tx.hash.hex()}: {exc}") from None
        if self.mines_on_request:
            self._rpc.call("evm_mine", timestamp)
            number = parent.number + 1
        else:
            number = self._await_block(parent, hashes)
        block = self.read_block(number, hashes)
        if block.parent_hash != parent.hash:
            raise LedgerError(self._misplaced(f"block {number} does not follow block {parent.number}"))
        self._head = dataclasses.replace(block, outcomes=())
        return block

    def read_block(self, number: int, hashes: Sequence[bytes]) -> ExecutedBlock:
        """Block `number` as the node holds it, which must hold exactly the transactions `hashes`, in order."""
        responses = self._rpc.batch([("eth_getBlockByNumber", [hex(number), False])]
                                    + [("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes])
        block, receipts = responses[0], responses[1:]
        if block is None:
            raise LedgerError(f"the node at {self.url} has no block {number}")
        held = [bytes.fromhex(h[2:]) for h in block["transactions"]]
        if held != list(hashes):
            raise LedgerError(self._misplaced(f"block {number} holds {len(held)} transactions, not exactly "
                                              f"the batch of {len(hashes)} in order"))
        reverts = self._revert_data([r for r in receipts if r["status"] != "0x1"])
        return _executed(block, tuple(_outcome(r, reverts) for r in receipts))

    def head(self) -> ExecutedBlock:
        return self._head

    def block_hash(self, number: int) -> bytes | None:
        """The hash of the node's block `number`, None if it has none."""
        block = self._rpc.call("eth_getBlockByNumber", hex(number), False)
        return _bytes(block["hash"]) if block else None

    def call(self, to: bytes, data: bytes, sender: bytes = b"\0" * 20) -> tuple[bool, bytes]:
        """eth_call on the latest block: (success, return or revert data)."""
        try:
            result = self._rpc.call("eth_call", {"from": "0x" + sender.hex(), "to": "0x" + to.hex(),
                                                 "data": "0x" + data.hex()}, "latest")
        except RpcError as exc:
            revert = _revert_data_of(exc)
            if revert is None:
                raise
            return False, revert
        return True, _bytes(result)

    # ------------------------------------------------------- snapshot and revert

    def snapshot(self) -> object:
        try:
            return self._rpc.call("evm_snapshot")
        except RpcError as exc:
            raise LedgerError(f"the node at {self.url} cannot take snapshots (evm_snapshot: {exc})") from None

    def revert(self, snapshot: object) -> None:
        """Back to `snapshot`. A snapshot is used up by reverting to it, as on Hardhat and Anvil."""
        try:
            reverted = self._rpc.call("evm_revert", snapshot)
        except RpcError as exc:
            raise LedgerError(f"the node at {self.url} cannot revert (evm_revert: {exc})") from None
        if not reverted:
            raise LedgerError(f"the node at {self.url} has no snapshot {snapshot}")
        self._head = _executed(self._rpc.call("eth_getBlockByNumber", "latest", False), ())

    # ---------------------------------------------------------------- helpers

    def _await_block(self, parent: ExecutedBlock, hashes: list[bytes]) -> int:
        """The number of the block a self-mining network put the batch in."""
        deadline = time.monotonic() + RECEIPT_WAIT
        while time.monotonic() < deadline:
            if hashes:
                receipts = self._rpc.batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes])
                if all(receipts):
                    numbers = {int(r["blockNumber"], 16) for r in receipts}
                    if len(numbers) > 1:
                        raise LedgerError(self._misplaced(f"the batch was split over blocks {sorted(numbers)}"))
                    return numbers.pop()
            elif int(self._rpc.call("eth_blockNumber"), 16) > parent.number:
                return parent.number + 1
            time.sleep(POLL_INTERVAL)
        raise LedgerError(f"the node at {self.url} did not include the batch within {RECEIPT_WAIT:.0f} s")

    def _misplaced(self, what: str) -> str:
        if self.mines_on_request:
            return (f"{what}: the node must mine only on request (no automine, no interval mining) and take "
                    "its mempool first in, first out (Hardhat: mining.mempool.order \"fifo\")")
        return (f"{what}: each batch must be one block on top of the last: configure the network to produce "
                "no empty blocks while idle (QBFT emptyblockperiodseconds) and to take a whole batch per block, "
                "and send it no other transactions")

    def _revert_data(self, failed: list[dict]) -> dict[str, bytes]:
        """The revert data of each failed transaction, by hash: the receipt's revertReason where the node
        records it (Besu --revert-reason-enabled), else the return value of a debug trace."""
        found = {r["transactionHash"]: _bytes(r["revertReason"]) for r in failed if r.get("revertReason")}
        to_trace = [r["transactionHash"] for r in failed if r["transactionHash"] not in found]
        if to_trace:
            try:
                traces = self._rpc.batch([("debug_traceTransaction", [h, NO_TRACE_DETAIL]) for h in to_trace])
            except RpcError as exc:
                raise LedgerError(f"the node at {self.url} gives no revert data for failed transactions ({exc}): "
                                  "enable revert reasons (Besu --revert-reason-enabled) or the DEBUG API") from None
            found.update((h, _bytes(t.get("returnValue", ""))) for h, t in zip(to_trace, traces))
        return found


def _executed(block: dict, outcomes: tuple[TxOutcome, ...]) -> ExecutedBlock:
    fields = [block[name] for name in _HEADER]
    for name in _LATER_HEADER:
        if block.get(name) is None:
            break
        fields.append(block[name])
    names = _HEADER + _LATER_HEADER
    header_rlp = rlp.encode([int(v, 16) if names[i] in _INTEGERS else _bytes(v) for i, v in enumerate(fields)])
    block_hash = _bytes(block["hash"])
    if keccak(header_rlp) != block_hash:
        raise LedgerError(f"block {int(block['number'], 16)}'s header, rebuilt from JSON-RPC, does not hash to "
                          f"{block['hash']}: the node's header has fields this engine does not know")
    return ExecutedBlock(
        number=int(block["number"], 16),
        hash=block_hash,
        parent_hash=_bytes(block["parentHash"]),
        state_root=_bytes(block["stateRoot"]),
        timestamp=int(block["timestamp"], 16),
        gas_used=int(block["gasUsed"], 16),
        header_rlp=header_rlp,
        outcomes=outcomes,
    )


def _outcome(receipt: dict, reverts: dict[str, bytes]) -> TxOutcome:
    success = receipt["status"] == "0x1"
    created = receipt.get("contractAddress")
    return TxOutcome(
        success=success,
        gas_used=int(receipt["gasUsed"], 16),
        logs=tuple(Log(_bytes(log["address"]), tuple(_bytes(t) for t in log["topics"]), _bytes(log["data"]))
                   for log in receipt["logs"]),
        # A receipt carries no return data: a successful transaction's output is not recorded.
        output=b"" if success else reverts[receipt["transactionHash"]],
        contract_address=_bytes(created) if created and success else None,
    )


def _revert_data_of(error: RpcError) -> bytes | None:
    """The revert data in an eth_call error: `data` as hex (geth, Besu, Anvil) or in an object (Hardhat)."""
    data = error.data.get("data") if isinstance(error.data, dict) else error.data
    if isinstance(data, str) and data.startswith("0x"):
        return _bytes(data)
    return None
