"""The fast engine: transactions execute on revm, through Anvil (foundry's node, the npm package
devnode/ pins), which pilotledger starts on a loopback port for one chain and stops with it; the
chain's headers and state roots are made here, from the state changes Anvil reports.

Anvil's own headers cannot be the ledger's: its state root keeps every storage slot a transaction
ever wrote, zeros included (the Ethereum trie holds no zero slot; py-evm and geth agree), and its
genesis header claims an empty state whatever it holds. So each block is executed on Anvil, which
gives the receipts, and replayed with its `trace_replayBlockTransactions` (state diff), which gives
each transaction's output and what it changed (balances, nonces, code, storage slots, cleared ones
too); the changes are applied to the chain's state, kept as the embedded engine keeps it (py-evm's
account database over the batched tries of tries.py and mpt.py), and the block's header is built
exactly as the embedded engine builds it (PyEvmEngine.record_block). The same blocks on either
engine have the same hash: tests/test_engines.py checks it on whole scenarios.

Anvil runs as the embedded chain does: the chain's id and genesis time, the fixed gas limit, base
fee 0 (a base fee of 0 stays 0 on Anvil), the genesis allocation (permissioned.GENESIS_ALLOC), no
CREATE2 factory, mining only on request, transactions first in, first out. Each transaction is handed
to it as soon as the consortium queues it (take: pipelined on one connection, which keeps their
order), so that Anvil checks and pools it on its own core while the scenario prepares the next; views
are Anvil's eth_call, on a second connection. It keeps the states of the head and its parent only (the
ledger keeps the chain), and is replaced by a fresh node holding the same state every RENEW_AFTER
transactions, so that its memory follows the state, not the run.

Why Anvil and not pyrevm, the Python binding of the same revm: pyrevm 0.3.7 runs a call as a
"message call" that neither raises the sender's nonce nor finalises the journal, so slots and
accounts stay warm from one transaction to the next (the gas differs from a real block's) and the
journal grows with every transaction; its commit() unbalances the journal depth; and it cannot tell
which storage a transaction changed, which the state root needs."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import tempfile
import weakref
from pathlib import Path
from typing import Sequence

import rlp
from eth_hash.auto import keccak
from eth_utils import decode_hex

from ledger.errors import ConfigError, LedgerError
from ledger.evm import devnode
from ledger.evm.base import AccountChange, ExecutedBlock, SignedTx
from ledger.evm.jsonrpc import JsonRpcClient, RpcError
from ledger.evm.permissioned import BLOCK_GAS_LIMIT, CALL_GAS, GENESIS_ALLOC
from ledger.evm.pyevm import PyEvmEngine
from ledger.evm.rpc import receipt_outcome
from ledger.evm.signing import Eip155Signer, decode_tx

# A node's state dump (anvil_dumpState's JSON, which Anvil also writes when stopped with --dump-state), as
# head_state reads it: the block environment, the accounts, then the rest.
STATE_START, ACCOUNTS_KEY, ACCOUNTS_END = b'{"block":', b',"accounts":', b',"best_block_number":'
DUMP_FILE = "dump.json"
DUMP_CHUNK = 1 << 22
DUMP_TIMEOUT = 600  # seconds for a node to write its state as it stops (a market's: a few seconds)


class AnvilEngine:
    name = "anvil"

    # Anvil's memory grows with every transaction it mines, about 1-2 kB each, whatever it is told to keep: after
    # this many the node is replaced by a fresh one holding the same state (_renew_node).
    RENEW_AFTER = 50_000

    def __init__(self, chain_id: int, genesis_timestamp: int) -> None:
        """A new chain `chain_id` whose genesis block is dated `genesis_timestamp`, on a fresh Anvil."""
        self.chain_id = chain_id
        self._genesis_timestamp = genesis_timestamp
        self._signer = Eip155Signer(chain_id)
        self._book = PyEvmEngine(chain_id, genesis_timestamp)  # the chain's headers and state; never executes
        self._taken: list[bytes] = []  # hashes of the transactions take() handed the node, for the next block
        self._failed: str | None = None  # why the node is not at the ledger's head, if it is not
        self._may_self_destruct = False  # whether a contract on the chain could (see _record)
        self._start_node()
        try:
            self._rpc.batch([("anvil_setBalance", ["0x" + address.hex(), hex(wei)])
                             for address, wei in GENESIS_ALLOC.items()] + [("evm_setAutomine", [False])])
        except LedgerError as exc:
            self.close()
            raise ConfigError(f"the Anvil node at {self.url} would not take the chain's genesis: {exc}") from None

    def _start_node(self, state: Path | None = None) -> None:
        # Where the node writes its state when renewal stops it: a folder made only then, so that a run that is
        # killed leaves none behind (its node, killed with it, writes nothing).
        self._dump = Path(tempfile.gettempdir()) / f"pilotledger-anvil-{secrets.token_hex(8)}" / DUMP_FILE
        self._process, self.url = devnode.start(
            devnode.free_port(), anvil=True, chain_id=self.chain_id, genesis_timestamp=self._genesis_timestamp,
            gas_limit=BLOCK_GAS_LIMIT, recent_only=True, load_state=state, dump_state=self._dump)
        self._stop = weakref.finalize(self, devnode.stop, self._process, signal.SIGKILL)  # also at exit; no dump
        self._rpc = JsonRpcClient(self.url)
        self._reads = JsonRpcClient(self.url)  # the calls': never behind the transactions handed over
        self._mined = 0  # transactions this node has mined

    def _renew_node(self) -> None:
        """Replaces the node with a fresh one that holds the same state: the accounts and their storage, and the
        head block only (the old node keeps every block it mined, which is what grows), so that Anvil's memory
        follows the state, not the run's length. The old node writes its state to a file as it stops (rather
        than answer anvil_dumpState, which this process would have to hold whole: a market's state is hundreds
        of MB), the file is cut to the head block where it lies (head_state), and the fresh node loads it."""
        self._rpc.close()
        self._reads.close()
        self._stop.detach()
        folder = self._dump.parent
        try:
            folder.mkdir(mode=0o700)
            devnode.stop(self._process, signal.SIGTERM, timeout=DUMP_TIMEOUT)
            head_state(self._dump)
            self._start_node(self._dump)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise LedgerError(f"Anvil's state dump does not read: {exc}") from None
        except ConfigError as exc:  # the fresh node would not start
            raise LedgerError(f"a fresh Anvil would not take the chain's state: {exc}") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if int(self._rpc.call("eth_blockNumber"), 16) != self._book.head().number:
            raise LedgerError("a fresh Anvil did not take the chain's state at its head")

    def sign(self, private_key: bytes, nonce: int, to: bytes, data: bytes, gas: int) -> SignedTx:
        fields, sender = self._signer.sign(private_key, nonce, to, data, gas)
        raw = rlp.encode(fields)
        return SignedTx(raw, keccak(raw), sender, nonce, to, data, None)

    decode = staticmethod(decode_tx)

    def take(self, tx: SignedTx) -> None:
        """Hands the node `tx`, queued for the next block, at once: the node checks it and pools it while the
        next one is prepared (pipelined on the connection, which keeps their order: the node mines its pool
        first in, first out). execute_block reads the node's answers."""
        self._rpc.send("eth_sendRawTransaction", "0x" + tx.raw.hex())
        self._taken.append(tx.hash)

    def execute_block(self, txs: Sequence[SignedTx], timestamp: int) -> ExecutedBlock:
        if self._failed is not None:
            raise LedgerError(self._failed)
        number = self._book.head().number + 1
        try:
            self._hand_over(txs, timestamp, number)
        except LedgerError:
            with contextlib.suppress(LedgerError):  # the node may be gone: the first error is the one to say
                self._drop_pool()  # what the node took of a block that is not made stays out of the next
            raise
        self._rpc.call("evm_mine", timestamp)
        try:
            block = self._record(txs, timestamp, number)
        except LedgerError as exc:
            # The node holds a block the ledger does not: only a revert to a snapshot from before it (a what-if's)
            # brings them together again; until then no view or block is answered from the node.
            self._failed = f"the anvil engine stopped at block {number}: {exc}"
            raise
        self._mined += len(txs)
        if self._mined >= self.RENEW_AFTER and not self._book.holds_snapshots():  # a snapshot is the node's
            try:
                self._renew_node()
            except LedgerError as exc:
                self._failed = f"the anvil engine lost its node after block {number}: {exc}"
                raise
        return block

    def _hand_over(self, txs: Sequence[SignedTx], timestamp: int, number: int) -> None:
        """Checks the block's transactions and time, hands the node those take() has not, and reads its answers."""
        typed = next((tx for tx in txs if tx.raw[0] < 0xC0), None)
        if typed is not None:  # the ledger's receipts and roots are built for legacy transactions
            raise LedgerError(f"transaction 0x{typed.hash.hex()} is not a legacy transaction: the anvil engine "
                              "takes the legacy (EIP-155) transactions pilotledger signs")
        if timestamp <= self._book.head().timestamp:
            raise LedgerError(f"block timestamp {timestamp} is not after its parent's {self._book.head().timestamp}")
        taken = len(self._taken)
        if [tx.hash for tx in txs[:taken]] != self._taken:
            raise LedgerError(f"the node holds {taken} transactions that are not the first of block {number}")
        for tx in txs[taken:]:  # not handed over yet
            self.take(tx)
        self._taken = []
        for tx, answer in zip(txs, self._rpc.answers()):
            if answer.get("error") is not None:
                raise LedgerError(f"Anvil refused transaction 0x{tx.hash.hex()}: "
                                  f"{RpcError('eth_sendRawTransaction', answer['error'])}")

    def _record(self, txs: Sequence[SignedTx], timestamp: int, number: int) -> ExecutedBlock:
        """The block the node has just mined, read back, checked and recorded in the book."""
        # The call trace, a quarter of the replay's cost, only names the contracts that self-destructed: it is
        # asked for once one could (a contract on the chain, or a deployment in the block, that can).
        traced = self._may_self_destruct or any(not tx.to for tx in txs)
        block, receipts, traces = self._rpc.batch([
            ("eth_getBlockByNumber", [hex(number), False]),
            ("eth_getBlockReceipts", [hex(number)]),
            ("trace_replayBlockTransactions", [hex(number), ["trace", "stateDiff"] if traced else ["stateDiff"]])])
        hashes = ["0x" + tx.hash.hex() for tx in txs]
        if block is None or block["transactions"] != hashes or [r["transactionHash"] for r in receipts] != hashes \
                or [t["transactionHash"] for t in traces] != hashes:
            raise LedgerError(f"Anvil's block {number} does not hold exactly the batch of {len(txs)} transactions "
                              "in order")
        outcomes = tuple(receipt_outcome(receipt, decode_hex(trace["output"]))
                         for receipt, trace in zip(receipts, traces))
        changes = [change for trace in traces
                   for change in account_changes(trace["stateDiff"], trace.get("trace") or [])]
        for change in changes:
            if not change.code:
                continue
            if runs_any(change.code, BLOCK_IDENTITY):
                raise LedgerError(f"contract 0x{change.address.hex()} {READS_BLOCK_IDENTITY}")
            self._may_self_destruct = self._may_self_destruct or runs_any(change.code, SELF_DESTRUCTION)
        self._check_creation_code(traces, number)
        return self._book.record_block(txs, timestamp, outcomes, changes)

    def _check_creation_code(self, traces: list[dict], number: int) -> None:
        """Refuses a block in which creation code (a deployment's, or a factory's CREATE) ran BLOCKHASH or
        PREVRANDAO: it runs once and leaves no code behind to check. Where the code could (its arguments, and
        the runtime code it carries, are walked as code too, so most that could never do), the block is
        replayed instruction by instruction to see whether it did. Every creation is in the call trace, which
        is asked for whenever one can happen (a deployment in the block, CREATE on the chain)."""
        could = [trace["transactionHash"] for trace in traces
                 if any(call.get("type") == "create" and runs_any(decode_hex(call["action"]["init"]), BLOCK_IDENTITY)
                        for call in trace.get("trace") or ())]
        if not could:
            return
        for replayed in self._rpc.call("trace_replayBlockTransactions", hex(number), ["vmTrace"]):
            if replayed["transactionHash"] in could and _ran(replayed["vmTrace"], IDENTITY_OPS):
                raise LedgerError(f"transaction {replayed['transactionHash']} creates a contract whose creation "
                                  f"code {READS_BLOCK_IDENTITY}")

    def call(self, to: bytes, data: bytes, sender: bytes = b"\0" * 20) -> tuple[bool, bytes]:
        """eth_call on the node's head, dated and numbered as PyEvmEngine.call runs it (the head's time, the
        next block's number), over a connection of its own, so that the transactions handed over meanwhile
        keep theirs: several times faster than py-evm's call on the same state."""
        if self._failed is not None:
            raise LedgerError(self._failed)
        head = self._book.head()
        request = {"from": "0x" + sender.hex(), "data": "0x" + data.hex(), "gas": hex(CALL_GAS), "gasPrice": "0x0"}
        if to:
            request["to"] = "0x" + to.hex()
        try:
            return True, decode_hex(self._reads.call("eth_call", request, "latest", {},
                                                     {"number": hex(head.number + 1), "time": hex(head.timestamp)}))
        except RpcError as exc:
            if exc.code == 3:  # reverted, with the revert data
                return False, decode_hex(exc.data if isinstance(exc.data, str) else "0x")
            if str(exc).startswith("eth_call: EVM error"):  # an exceptional halt: no data, as py-evm has none
                return False, b""
            raise LedgerError(f"Anvil could not run a call: {exc}") from None

    def head(self) -> ExecutedBlock:
        return self._book.head()

    def state(self):
        """The head and its state, as PyEvmEngine.state() gives them (for the state snapshot)."""
        return self._book.state()

    def snapshot(self) -> object:
        if self._failed is not None:
            raise LedgerError(self._failed)
        if self._taken:
            raise LedgerError("execute the transactions handed to the node before taking a snapshot")
        try:
            return self._rpc.call("evm_snapshot"), self._book.snapshot()
        except RpcError as exc:
            raise LedgerError(f"Anvil cannot take a snapshot: {exc}") from None

    def revert(self, snapshot: object) -> None:
        node, book = snapshot
        self._drop_pool()  # queued and then forgotten: not for the next block
        if not self._rpc.call("evm_revert", node):
            raise LedgerError(f"Anvil has no snapshot {node}")
        self._book.revert(book)
        self._failed = None  # the node is back at a block the ledger holds

    def _drop_pool(self) -> None:
        """Empties the node's pool of the transactions handed over (their answers read, whatever they say)."""
        self._taken = []
        self._rpc.answers()
        self._rpc.call("anvil_dropAllTransactions")

    def close(self) -> None:
        """Stops the node (also done when the engine is collected, and at exit)."""
        self._rpc.close()
        self._reads.close()
        self._stop()


def account_changes(diff: dict, calls: list[dict] = ()) -> list[AccountChange]:
    """What one transaction changed, from a parity-style state diff: each field "=" (unchanged), {"+": new}
    (created), {"-": old} (deleted) or {"*": {"from": old, "to": new}}; an account whose fields are all
    deleted was deleted. Anvil's diff leaves a contract that self-destructed as unchanged: the transaction's
    call trace (`calls`) names it ("suicide"), and it is deleted after the transaction's other changes, unless
    a frame around the suicide failed (its "error" set; the transaction's own frame is at traceAddress []):
    a reverted frame's self-destruct is undone with the rest of the frame."""
    failed = [tuple(c.get("traceAddress", ())) for c in calls if c.get("error")]
    destroyed = [decode_hex(c["action"]["address"]) for c in calls if c.get("type") == "suicide"
                 and not any(tuple(c.get("traceAddress", ()))[:len(frame)] == frame for frame in failed)]
    return _changed(diff) + [AccountChange(address, deleted=True) for address in dict.fromkeys(destroyed)]


def _changed(diff: dict) -> list[AccountChange]:
    changes = []
    for address, fields in diff.items():
        if all(isinstance(fields.get(name), dict) and "-" in fields[name] for name in ("balance", "nonce", "code")):
            changes.append(AccountChange(decode_hex(address), deleted=True))
            continue
        new = {name: _new_value(value) for name, value in fields.items() if name != "storage"}
        changes.append(AccountChange(
            decode_hex(address),
            balance=None if new.get("balance") is None else int(new["balance"], 16),
            nonce=None if new.get("nonce") is None else int(new["nonce"], 16),
            code=None if new.get("code") is None else decode_hex(new["code"]),
            storage={int(slot, 16): int(_new_value(value) or "0x0", 16)
                     for slot, value in fields.get("storage", {}).items()},
        ))
    return changes


def _new_value(field: str | dict) -> str | None:
    """A state-diff field's value after the transaction: None when unchanged, "0x0" when cleared."""
    if field == "=":
        return None
    if "+" in field:
        return field["+"]
    if "*" in field:
        return field["*"]["to"]
    return "0x0"  # "-": the value is gone


def head_state(dump: Path) -> None:
    """Cuts Anvil's state dump `dump` (its JSON: "block", "accounts", then "best_block_number", "blocks",
    "transactions"...) to the accounts and the head block, where it lies. The accounts, most of a market's
    dump, are scanned a chunk at a time, never parsed nor held whole nor copied; only what follows them is
    parsed and written again."""
    with dump.open("r+b") as file:
        if file.read(len(STATE_START)) != STATE_START:
            raise ValueError("not the layout of anvil_dumpState (block, accounts, best_block_number, blocks, ...)")
        offset, carried, accounts = len(STATE_START), b"", False  # offset: where `carried` starts in the file
        while True:
            chunk = file.read(DUMP_CHUNK)
            window = carried + chunk
            at = window.find(ACCOUNTS_END)  # accounts hold hex strings only: the first is the key
            if at >= 0:
                break
            if not chunk:
                raise ValueError("the dump ends before its best_block_number")
            accounts = accounts or ACCOUNTS_KEY in window
            keep = min(len(window), len(ACCOUNTS_END) - 1)  # a marker split between chunks is in the next window
            offset += len(window) - keep
            carried = window[len(window) - keep:]
        if not (accounts or ACCOUNTS_KEY in window[:at]):
            raise ValueError("the dump names no accounts before its best_block_number")
        rest = json.loads(b"{" + window[at + 1:] + file.read())
        rest["blocks"] = [max(rest["blocks"], key=lambda block: int(block["header"]["number"], 16))]
        rest["transactions"] = []
        file.seek(offset + at)
        file.truncate()
        file.write(b"," + json.dumps(rest).encode()[1:])


BLOCK_IDENTITY = b"\x40\x44"  # BLOCKHASH, PREVRANDAO
IDENTITY_OPS = {"BLOCKHASH", "PREVRANDAO", "DIFFICULTY"}  # as a vmTrace names them (0x44 was DIFFICULTY)
READS_BLOCK_IDENTITY = ("reads BLOCKHASH or PREVRANDAO, which Anvil answers from its own headers, not the "
                        "ledger's: run this chain on the pyevm engine")
SELF_DESTRUCTION = b"\xf0\xf5\xff"  # CREATE and CREATE2 (the child may self-destruct), SELFDESTRUCT
HALTS = b"\x00\x56\xf3\xfd\xfe\xff"  # STOP, JUMP, RETURN, REVERT, INVALID, SELFDESTRUCT: the next is not run after


def _ran(vm_trace: dict | None, ops: set[str]) -> bool:
    """Whether a parity vmTrace (its instructions, each with the trace of the frame it opened) ran one of `ops`."""
    frames = [vm_trace]
    while frames:
        frame = frames.pop()
        for instruction in (frame or {}).get("ops") or ():
            if instruction.get("op") in ops:
                return True
            frames.append(instruction.get("sub"))
    return False


def runs_any(code: bytes, opcodes: bytes) -> bool:
    """Whether runtime `code` can run one of `opcodes`: each instruction of the walk the EVM's jump analysis
    makes (PUSH data skipped), but those after a halt or an unconditional jump that no JUMPDEST reopens, which
    nothing can reach (solc's trailing metadata, after INVALID, among them, unless its hash happens to hold a
    JUMPDEST; code dressed up as metadata is still seen)."""
    reachable, pc = True, 0
    while pc < len(code):
        op = code[pc]
        if op == 0x5B:
            reachable = True
        elif reachable and op in opcodes:
            return True
        elif op in HALTS:
            reachable = False
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return False
