"""The rpc engine: the same blocks on a real node over Ethereum JSON-RPC (Hardhat, Anvil, Besu,
GoQuorum, FISCO BCOS's web3 gateway), the way a pilot moves to a multi-machine consortium.

Transactions are signed here, as the embedded engine signs them (EIP-155, gas price 0, explicit
gas), with the node's chain id. A node that mines on request (Hardhat, Anvil without --block-time)
has automine turned off, takes the batch, and mines it with `evm_mine` at the requested timestamp:
the block must hold exactly the batch, in order. A node that mines on its own clock (Anvil with
--block-time, Besu QBFT/IBFT, GoQuorum) is followed block by block: the ledger records every block
it made on top of the last one recorded (empty ones too), up to the one holding the batch's last
transaction, each with its transactions in the node's order; a transaction not of this consortium
stops the run. Where the node takes timestamps (Anvil's evm_setNextBlockTimestamp), its next block
is dated as requested; where it does not (QBFT), its clock stands, and a scenario moving its own
clock ahead of it is refused. Every block's header, rebuilt from JSON, must hash to the block hash."""

from __future__ import annotations

import dataclasses
import datetime
import time
from typing import Sequence

import rlp
from eth_hash.auto import keccak
from eth_utils import decode_hex as _bytes  # 0x-hex (or bare hex) text to bytes

from ledger.errors import ConfigError, LedgerError
from ledger.evm.base import ExecutedBlock, Log, SignedTx, TxOutcome
from ledger.evm.signing import Eip155Signer, decode_tx
from ledger.evm.jsonrpc import JsonRpcClient, NodeUnreachable, RpcError

RECEIPT_WAIT = 120.0  # seconds a self-mining network may take to make its next block
POLL_INTERVAL = 0.2
CLOCK_SLACK = 300  # seconds a block may be requested ahead of the clock of a network that dates its own blocks

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
            chain_id, latest, automine, interval = self._rpc.batch_responses(
                [("eth_chainId", []), ("eth_getBlockByNumber", ["latest", False]), ("evm_setAutomine", [False]),
                 ("anvil_getIntervalMining", [])])
        except NodeUnreachable as exc:
            raise ConfigError(str(exc)) from None
        if "result" not in chain_id or "result" not in latest:
            raise ConfigError(f"{url} is not an Ethereum JSON-RPC endpoint: {chain_id.get('error')}")
        self.chain_id = int(chain_id["result"], 16)
        # Hardhat and Anvil (their evm_ methods) take timestamps, and mine on request once automine is off,
        # unless Anvil mines at an interval (--block-time); a node without them (Besu, GoQuorum) mines on its
        # own clock.
        self.sets_timestamps = "result" in automine
        self.mines_on_request = self.sets_timestamps and not interval.get("result")
        self._head = _executed(latest["result"], ())
        if genesis_timestamp is not None and self._head.timestamp >= genesis_timestamp:
            raise ConfigError(
                f"the node at {url} is at block {self._head.number}, dated {self._head.timestamp}, not before the "
                f"scenario's genesis time {genesis_timestamp}: start a fresh node whose genesis is earlier "
                "(the dev node's is 2021-01-01); a network that stamps blocks with its own clock "
                "cannot run scenarios dated in the past")
        self._signer = Eip155Signer(self.chain_id)

    # ------------------------------------------------------------- transactions

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx:
        fields, sender = self._signer.sign(private_key, nonce, to, data, gas)
        raw = rlp.encode(fields)
        return SignedTx(raw, keccak(raw), sender, nonce, to, data, None)

    decode = staticmethod(decode_tx)

    # ------------------------------------------------------------------ blocks

    def execute(self, txs: Sequence[SignedTx], timestamp: int) -> list[ExecutedBlock]:
        """The blocks the node made of the batch `txs` (ledger.evm.base.execute_batch): on a node that mines
        on request, the one block it mined at `timestamp`; on one that mines on its own clock, every block
        after the last one recorded up to the one holding the batch's last transaction (for an empty batch,
        up to the first block made after the request)."""
        parent = self._head
        hashes = [tx.hash for tx in txs]
        if self.mines_on_request:
            if timestamp <= parent.timestamp:
                raise LedgerError(f"block timestamp {timestamp} is not after its parent's {parent.timestamp}")
            self._send(txs)
            self._rpc.call("evm_mine", timestamp)
            blocks = self._follow(parent, hashes, through=parent.number + 1)
            if [h.lower() for b in blocks for h in b["transactions"]] != ["0x" + h.hex() for h in hashes]:
                raise LedgerError(self._misplaced(f"block {parent.number + 1} holds "
                                                  f"{len(blocks[0]['transactions'])} transactions, not exactly "
                                                  f"the batch of {len(hashes)} in order"))
        else:
            latest = self._date_next_block(timestamp)
            self._send(txs)
            blocks = self._follow(parent, hashes, through=None if hashes else latest + 1)
        executed = self._with_outcomes(blocks, named=not self.mines_on_request)  # on request: the batch, in order
        self._head = dataclasses.replace(executed[-1], outcomes=(), tx_hashes=None)
        return executed

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int) -> ExecutedBlock:
        """The batch as one block: a node that made several of it is an error (execute() takes them all)."""
        blocks = self.execute(txs, timestamp)
        if len(blocks) != 1:
            raise LedgerError(f"the node at {self.url} made blocks {blocks[0].number} to {blocks[-1].number} of one "
                              "batch: a node that mines on its own clock is run with execute(), which takes them all")
        return blocks[0]

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

    def resume_at(self, number: int, block_hash: bytes) -> None:
        """For a chain recorded up to block `number`, whose hash is `block_hash`: a node that mines on its own
        clock has made blocks since, and they are recorded with the next batch, so its block `number` is
        the head (the node must hold it). A node that mines on request is left at its latest block."""
        if self.mines_on_request or number >= self._head.number:
            return
        held = self._rpc.call("eth_getBlockByNumber", hex(number), False)
        if held is None or _bytes(held["hash"]) != block_hash:
            raise LedgerError(f"the node at {self.url} no longer holds this chain: its block {number} differs")
        self._head = _executed(held, ())

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
        """The node's snapshot id and this engine's head (on a node that mines on its own, the node may hold
        later blocks, not yet recorded: they are still there after a revert, to be recorded next)."""
        try:
            return self._rpc.call("evm_snapshot"), self._head
        except RpcError as exc:
            raise LedgerError(f"the node at {self.url} cannot take snapshots (evm_snapshot: {exc})") from None

    def revert(self, snapshot: object) -> None:
        """Back to `snapshot`. A snapshot is used up by reverting to it, as on Hardhat and Anvil."""
        node_snapshot, head = snapshot
        try:
            reverted = self._rpc.call("evm_revert", node_snapshot)
        except RpcError as exc:
            raise LedgerError(f"the node at {self.url} cannot revert (evm_revert: {exc})") from None
        if not reverted:
            raise LedgerError(f"the node at {self.url} has no snapshot {node_snapshot}")
        if self.block_hash(head.number) != head.hash:
            raise LedgerError(f"the node at {self.url} reverted to snapshot {node_snapshot} but no longer holds "
                              f"block {head.number}")
        self._head = head

    # ---------------------------------------------------------------- helpers

    def _send(self, txs: Sequence[SignedTx]) -> None:
        # One request per transaction, not a batch: Hardhat serves a batch's requests concurrently, so its
        # mempool would take them out of order.
        for tx in txs:
            try:
                self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
            except RpcError as exc:
                raise LedgerError(f"the node at {self.url} refused transaction 0x{tx.hash.hex()}: {exc}") from None

    def _date_next_block(self, timestamp: int) -> int:
        """Before a batch on a node that mines on its own clock: the number of its latest block. A node that
        takes timestamps (Anvil) dates its next block `timestamp` when that is later than its latest; on one
        that does not, `timestamp` may not run ahead of the network's clock by more than CLOCK_SLACK."""
        latest = self._rpc.call("eth_getBlockByNumber", "latest", False)
        number, dated = int(latest["number"], 16), int(latest["timestamp"], 16)
        if timestamp <= dated:
            return number  # its blocks are later than asked: the consortium's clock follows them
        if self.sets_timestamps:
            try:
                self._rpc.call("evm_setNextBlockTimestamp", timestamp)
            except RpcError as exc:  # a block made meanwhile may already be later
                if int(self._rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16) < timestamp:
                    raise LedgerError(f"the node at {self.url} would not date its next block {timestamp}: "
                                      f"{exc}") from None
        elif timestamp - max(dated, int(time.time())) > CLOCK_SLACK:
            raise LedgerError(
                f"the scenario's clock is at {_utc(timestamp)}, ahead of the clock of the network at {self.url} "
                f"(its block {number} is dated {_utc(dated)}): a network that dates its own blocks cannot move "
                "forward in time (lock-ups, expiries); run such a scenario on a node that takes timestamps "
                "(Anvil, Hardhat)")
        return number

    def _follow(self, parent: ExecutedBlock, hashes: list[bytes], through: int | None) -> list[dict]:
        """The node's blocks after `parent`, as JSON, in order, each on top of the one before, up to block
        `through`, or with None up to the one holding the last of `hashes`; waiting for each block for up to
        RECEIPT_WAIT seconds. A transaction that is not one of `hashes` is refused."""
        ours = {"0x" + h.hex() for h in hashes}
        found, blocks, previous = 0, [], parent.hash
        number = parent.number + 1
        while (found < len(ours) if through is None else number <= through):
            block = self._await(number)
            if _bytes(block["parentHash"]) != previous:
                raise LedgerError(self._misplaced(f"block {number} does not follow block {number - 1}"))
            for tx_hash in block["transactions"]:
                if tx_hash.lower() not in ours:
                    raise LedgerError(
                        f"block {number} of the node at {self.url} holds transaction {tx_hash}, which is not "
                        "this consortium's: the ledger records only its own transactions; send the network "
                        "no others")
            found += len(block["transactions"])
            blocks.append(block)
            previous, number = _bytes(block["hash"]), number + 1
        return blocks

    def _await(self, number: int) -> dict:
        deadline = time.monotonic() + RECEIPT_WAIT
        while True:
            block = self._rpc.call("eth_getBlockByNumber", hex(number), False)
            if block is not None:
                return block
            if time.monotonic() > deadline:
                raise LedgerError(f"the node at {self.url} made no block {number} within {RECEIPT_WAIT:.0f} s"
                                  + ("" if self.mines_on_request else ": is the network producing blocks?"))
            time.sleep(POLL_INTERVAL)

    def _with_outcomes(self, blocks: list[dict], named: bool) -> list[ExecutedBlock]:
        """`blocks` with their transactions' receipts, read in one batch, and, if `named`, their hashes."""
        hashes = [h for block in blocks for h in block["transactions"]]
        receipts = self._rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        if any(r is None for r in receipts):
            raise LedgerError(f"the node at {self.url} has no receipt for a transaction of its blocks "
                              f"{int(blocks[0]['number'], 16)} to {int(blocks[-1]['number'], 16)}")
        reverts = self._revert_data([r for r in receipts if r["status"] != "0x1"])
        by_hash = {r["transactionHash"]: r for r in receipts}
        return [_executed(block, tuple(_outcome(by_hash[h], reverts) for h in block["transactions"]),
                          tuple(_bytes(h) for h in block["transactions"]) if named else None) for block in blocks]

    def _misplaced(self, what: str) -> str:
        if self.mines_on_request:
            return (f"{what}: the node must mine only on request (no automine, no interval mining) and take "
                    "its mempool first in, first out (Hardhat: mining.mempool.order \"fifo\")")
        return (f"{what}: the ledger follows the network's blocks one after another; was the node reverted or "
                "reorganised behind the engine?")

    def _revert_data(self, failed: list[dict]) -> dict[str, bytes]:
        """The revert data of each failed transaction, by hash: the receipt's revertReason where the node
        records it (Besu --revert-reason-enabled, GoQuorum --revertreason), else the return value of a debug
        trace."""
        found = {r["transactionHash"]: _bytes(r["revertReason"]) for r in failed if r.get("revertReason")}
        to_trace = [r["transactionHash"] for r in failed if r["transactionHash"] not in found]
        if to_trace:
            try:
                traces = self._rpc.batch([("debug_traceTransaction", [h, NO_TRACE_DETAIL]) for h in to_trace])
            except RpcError as exc:
                raise LedgerError(f"the node at {self.url} gives no revert data for failed transactions ({exc}): "
                                  "enable revert reasons (Besu --revert-reason-enabled, GoQuorum --revertreason) "
                                  "or the DEBUG API") from None
            found.update((h, _bytes(t.get("returnValue", ""))) for h, t in zip(to_trace, traces))
        return found


def _executed(block: dict, outcomes: tuple[TxOutcome, ...],
              tx_hashes: tuple[bytes, ...] | None = None) -> ExecutedBlock:
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
        tx_hashes=tx_hashes,
    )


def _utc(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _outcome(receipt: dict, reverts: dict[str, bytes]) -> TxOutcome:
    # A receipt carries no return data: a successful transaction's output is not recorded.
    return receipt_outcome(receipt, b"" if receipt["status"] == "0x1" else reverts[receipt["transactionHash"]])


def receipt_outcome(receipt: dict, output: bytes) -> TxOutcome:
    """A transaction's outcome from its JSON-RPC receipt and its output (return or revert data)."""
    success = receipt["status"] == "0x1"
    created = receipt.get("contractAddress")
    return TxOutcome(
        success=success,
        gas_used=int(receipt["gasUsed"], 16),
        logs=tuple(Log(_bytes(log["address"]), tuple(_bytes(t) for t in log["topics"]), _bytes(log["data"]))
                   for log in receipt["logs"]),
        output=output,
        contract_address=_bytes(created) if created and success else None,
    )


def _revert_data_of(error: RpcError) -> bytes | None:
    """The revert data in an eth_call error: `data` as hex (geth, Besu, Anvil) or in an object (Hardhat)."""
    data = error.data.get("data") if isinstance(error.data, dict) else error.data
    if isinstance(data, str) and data.startswith("0x"):
        return _bytes(data)
    return None
