"""A faster opcode loop and block building for py-evm's Shanghai rules, with the same results.

py-evm runs each opcode through a generator, an opcode object, a gas-meter call
and stack methods, and re-derives which JUMPDESTs are valid in every call frame.
This loop keeps gas in a local (handed to py-evm's gas meter around every call into
py-evm), dispatches on a per-opcode kind table, and runs inline the opcodes that make
up most of the executed ones: PUSH (values decoded once per contract), DUP, SWAP, POP,
JUMP, JUMPI, JUMPDEST, the two-operand arithmetic, comparison, bitwise and shift ops,
ISZERO, NOT, MSTORE and MLOAD within memory, CALLER, CALLVALUE, CALLDATASIZE,
CALLDATALOAD, SLOAD (EIP-2929 warm/cold gas, as py-evm charges it) and SHA3. Every other
opcode, and every edge case of these (memory expansion, short stacks), runs py-evm's own
logic, and every failure raises py-evm's own exception, so state, gas and receipts are
byte-for-byte those of stock py-evm (the benchmark and tests/test_engine.py replay blocks
on stock py-evm and compare head hashes).

Storage goes through tries.py (writes batched per block, nodes decoded once), and the
transaction and receipt tries of each block are built by mpt.py.
"""

from __future__ import annotations

from functools import lru_cache

import rlp
from eth._utils.db import get_parent_header
from eth.constants import GAS_SHA3WORD as SHA3_WORD_GAS
from eth.constants import MAX_UNCLES
from eth.exceptions import FullStack, Halt, InsufficientStack, InvalidInstruction, InvalidJumpDestination, OutOfGas
from eth.vm.forks.berlin.constants import COLD_SLOAD_COST, WARM_STORAGE_READ_COST
from eth.vm.forks.berlin.logic import sload_eip2929
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.forks.shanghai.state import ShanghaiState
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.logic.sha3 import sha3 as sha3_logic
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import (
    ADD, AND, CALLDATALOAD, CALLDATASIZE, CALLER, CALLVALUE, DUP1, DUP16, EQ, GT, ISZERO, JUMP, JUMPDEST, JUMPI, LT,
    MLOAD, MSTORE, NOT, OR, POP, PUSH0, PUSH1, PUSH32, SHA3, SHL, SHR, SLOAD, STOP, SUB, SWAP1, SWAP16, XOR,
)
from eth_utils import ValidationError

from ledger.evm.mpt import keccak, trie_root
from ledger.evm.permissioned import PermissionedShanghaiVM
from ledger.evm.tries import BatchedAccountDB

STACK_LIMIT = 1024
NO_RESULT = object()
WORD = 2**256 - 1


@lru_cache(maxsize=256)
def jump_destinations(code: bytes) -> frozenset[int]:
    """Positions of JUMPDEST opcodes that are not inside PUSH data."""
    valid = set()
    pc, end = 0, len(code)
    while pc < end:
        op = code[pc]
        if op == JUMPDEST:
            valid.add(pc)
        pc += op - PUSH1 + 2 if PUSH1 <= op <= PUSH32 else 1
    return frozenset(valid)


def _jump_target(code: bytes, destinations: frozenset[int], dest: int) -> int:
    """py-evm's checks, in py-evm's order, with py-evm's exceptions."""
    if dest in destinations:
        return dest
    if dest >= len(code) or code[dest] != JUMPDEST:
        raise InvalidJumpDestination("Invalid Jump Destination")
    raise InvalidInstruction("Jump resulted in invalid instruction")


def _as_int(value: int | bytes) -> int:
    return value if value.__class__ is int else int.from_bytes(value, "big")


class FastShanghaiComputation(ShanghaiComputation):
    @classmethod
    def apply_computation(cls, state, message, transaction_context, parent_computation=None):
        with cls(state, message, transaction_context) as computation:
            if computation.is_origin_computation:
                computation.contracts_created = []
                if message.is_create:
                    cls.consume_initcode_gas_cost(computation)
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            if message.is_create:
                computation.contracts_created.append(message.storage_address)

            precompile = computation.precompiles.get(message.code_address, NO_RESULT)
            if precompile is not NO_RESULT:
                if not message.is_delegation:
                    precompile(computation)
                return computation

            try:
                _run(computation)
            except Halt:
                pass
        return computation


# Opcode kinds run inline, most frequent first in the loop.
(K_PUSH, K_JUMPDEST, K_POP, K_SWAP, K_DUP, K_JUMPI, K_JUMP, K_MSTORE,
 K_ADD, K_AND, K_SUB, K_SHL, K_EQ, K_GT, K_LT, K_SHR, K_OR, K_XOR,  # two operands: K_ADD..K_XOR
 K_ISZERO, K_NOT, K_PUSH0, K_MLOAD, K_SLOAD, K_SHA3, K_CALLDATALOAD, K_CONTEXT,
 K_FIXED, K_DYNAMIC, K_INVALID) = range(29)
_INLINE = {
    JUMPDEST: K_JUMPDEST, POP: K_POP, JUMPI: K_JUMPI, JUMP: K_JUMP, MSTORE: K_MSTORE, ADD: K_ADD, ISZERO: K_ISZERO,
    AND: K_AND, SUB: K_SUB, PUSH0: K_PUSH0, SHL: K_SHL, MLOAD: K_MLOAD, EQ: K_EQ, GT: K_GT,
    CALLDATALOAD: K_CALLDATALOAD, LT: K_LT, CALLER: K_CONTEXT, CALLVALUE: K_CONTEXT, CALLDATASIZE: K_CONTEXT,
    NOT: K_NOT, SHR: K_SHR, OR: K_OR, XOR: K_XOR,
}
_INLINE_LOGIC = {SLOAD: (K_SLOAD, sload_eip2929), SHA3: (K_SHA3, sha3_logic)}
_tables: dict[int, tuple] = {}


def _opcode_tables(opcodes) -> tuple[list[int], list[int]]:
    """(kind, fixed gas) per opcode byte for an opcode table; only py-evm's own Shanghai opcodes are inlined."""
    cached = _tables.get(id(opcodes))
    if cached is not None and cached[0] is opcodes:
        return cached[1], cached[2]
    kinds, costs = [K_INVALID] * 256, [0] * 256
    stock = ShanghaiComputation.opcodes
    for op in range(256):
        fn = opcodes.get(op)
        if fn is None:
            continue
        if fn.__class__ is not _FastOpcode:
            kinds[op] = K_DYNAMIC
            continue
        costs[op] = fn.gas_cost
        original = stock.get(op)
        if original is not fn and (original is None or original.logic_fn is not fn.logic_fn
                                   or original.gas_cost != fn.gas_cost):
            kinds[op] = K_FIXED  # not Shanghai's own opcode: run its logic, whatever it is
        elif PUSH1 <= op <= PUSH32:
            kinds[op] = K_PUSH
        elif SWAP1 <= op <= SWAP16:
            kinds[op] = K_SWAP
        elif DUP1 <= op <= DUP16:
            kinds[op] = K_DUP
        elif op in _INLINE:
            kinds[op] = _INLINE[op]
        elif op in _INLINE_LOGIC and fn.logic_fn is _INLINE_LOGIC[op][1]:
            kinds[op] = _INLINE_LOGIC[op][0]
        else:
            kinds[op] = K_FIXED
    _tables[id(opcodes)] = (opcodes, kinds, costs)
    return kinds, costs


@lru_cache(maxsize=256)
def push_values(code: bytes) -> list:
    """The value each PUSH pushes, as an int, at the PUSH's position (zero-padded past the end of the code)."""
    values = [None] * len(code)
    pc, end = 0, len(code)
    while pc < end:
        op = code[pc]
        if PUSH1 <= op <= PUSH32:
            size = op - PUSH1 + 1
            values[pc] = int.from_bytes(code[pc + 1:pc + 1 + size].ljust(size, b"\x00"), "big")
            pc += size + 1
        else:
            pc += 1
    return values


def _oog(meter, gas: int, cost: int, reason: str) -> OutOfGas:
    meter.gas_remaining = gas
    return OutOfGas(f"Out of gas: Needed {cost} - Remaining {gas} - Reason: {reason}")


def _run(computation) -> None:
    """The opcode loop. Gas is kept in a local and handed to py-evm's gas meter around every
    call into py-evm (and before every error raised here); py-evm's CodeStream gets the
    program counter for the opcodes py-evm runs. Stack items are ints or bytes, as in
    py-evm (PUSH pushes ints here: every py-evm opcode reads either form by value)."""
    kinds, costs = _opcode_tables(computation.opcodes)
    stream = computation.code
    message = computation.msg
    code = message.code
    end = len(code)
    destinations = None
    immediates = None
    stack = computation._stack.values
    push, pop = stack.append, stack.pop
    meter = computation._gas_meter
    memory = computation._memory
    mem = memory._bytes
    gas = meter.gas_remaining
    pc = 0
    while True:
        op = code[pc] if pc < end else STOP
        cost = costs[op]
        if cost > gas:
            raise _oog(meter, gas, cost, computation.opcodes[op].mnemonic)
        gas -= cost
        kind = kinds[op]
        if kind == K_PUSH:
            if len(stack) >= STACK_LIMIT:
                meter.gas_remaining = gas
                raise FullStack("Stack limit reached")
            if immediates is None:
                immediates = push_values(code)
            push(immediates[pc])
            pc += op - PUSH1 + 2
            continue
        pc += 1
        if kind == K_JUMPDEST:
            pass
        elif kind == K_POP:
            if not stack:
                meter.gas_remaining = gas
                raise InsufficientStack("Wanted 1 stack item, had none")
            pop()
        elif kind == K_SWAP:
            idx = SWAP1 - op - 2
            try:
                stack[-1], stack[idx] = stack[idx], stack[-1]
            except IndexError:
                meter.gas_remaining = gas
                raise InsufficientStack(f"Insufficient stack items for SWAP{op - SWAP1 + 1}") from None
        elif kind == K_DUP:
            if len(stack) >= STACK_LIMIT:
                meter.gas_remaining = gas
                raise FullStack("Stack limit reached")
            try:
                push(stack[DUP1 - op - 1])
            except IndexError:
                meter.gas_remaining = gas
                raise InsufficientStack(f"Insufficient stack items for DUP{op - DUP1 + 1}") from None
        elif kind == K_JUMPI:
            if len(stack) < 2:
                meter.gas_remaining = gas
                raise InsufficientStack(f"Wanted 2 stack items, only had {len(stack)}")
            dest, condition = pop(), pop()
            if condition if condition.__class__ is int else int.from_bytes(condition, "big"):
                if destinations is None:
                    destinations = jump_destinations(code)
                if dest.__class__ is not int:
                    dest = int.from_bytes(dest, "big")
                if dest not in destinations:
                    meter.gas_remaining = gas
                    _jump_target(code, destinations, dest)
                pc = dest
        elif kind == K_JUMP:
            if not stack:
                meter.gas_remaining = gas
                raise InsufficientStack("Wanted 1 stack item, had none")
            if destinations is None:
                destinations = jump_destinations(code)
            dest = pop()
            if dest.__class__ is not int:
                dest = int.from_bytes(dest, "big")
            if dest not in destinations:
                meter.gas_remaining = gas
                _jump_target(code, destinations, dest)
            pc = dest
        elif kind == K_MSTORE and len(stack) >= 2 and _as_int(stack[-1]) + 32 <= len(mem):
            start = pop()  # within memory already: no expansion, so no gas beyond the fixed cost
            if start.__class__ is not int:
                start = int.from_bytes(start, "big")
            value = pop()
            mem[start:start + 32] = value.to_bytes(32, "big") if value.__class__ is int \
                else value.rjust(32, b"\x00")[-32:]
        elif K_ADD <= kind <= K_XOR:
            if len(stack) < 2:
                meter.gas_remaining = gas
                raise InsufficientStack(f"Wanted 2 stack items, only had {len(stack)}")
            a = pop()
            b = pop()
            if a.__class__ is not int:
                a = int.from_bytes(a, "big")
            if b.__class__ is not int:
                b = int.from_bytes(b, "big")
            if kind == K_ADD:
                push((a + b) & WORD)
            elif kind == K_AND:
                push(a & b)
            elif kind == K_SUB:
                push((a - b) & WORD)
            elif kind == K_SHL:
                push(0 if a >= 256 else (b << a) & WORD)
            elif kind == K_EQ:
                push(1 if a == b else 0)
            elif kind == K_GT:
                push(1 if a > b else 0)
            elif kind == K_LT:
                push(1 if a < b else 0)
            elif kind == K_SHR:
                push(0 if a >= 256 else b >> a)
            elif kind == K_OR:
                push(a | b)
            else:  # K_XOR
                push(a ^ b)
        elif kind == K_ISZERO or kind == K_NOT:
            if not stack:
                meter.gas_remaining = gas
                raise InsufficientStack("Wanted 1 stack item, had none")
            a = pop()
            if a.__class__ is not int:
                a = int.from_bytes(a, "big")
            push((0 if a else 1) if kind == K_ISZERO else WORD - a)
        elif kind == K_PUSH0:
            if len(stack) >= STACK_LIMIT:
                meter.gas_remaining = gas
                raise FullStack("Stack limit reached")
            push(0)
        elif kind == K_MLOAD and stack and _as_int(stack[-1]) + 32 <= len(mem):
            start = pop()
            if start.__class__ is not int:
                start = int.from_bytes(start, "big")
            push(bytes(mem[start:start + 32]))
        elif kind == K_SLOAD and stack:
            slot = pop()
            if slot.__class__ is not int:
                slot = int.from_bytes(slot, "big")
            address = message.storage_address
            account_db = computation.state._account_db
            accessed = account_db._journal_accessed_state
            key = address + (slot.to_bytes((slot.bit_length() + 7) // 8 or 1, "big"))
            if key in accessed:
                cost = WARM_STORAGE_READ_COST
            else:
                accessed[key] = b""  # marked warm before the gas check, as py-evm does
                cost = COLD_SLOAD_COST
            if cost > gas:
                raise _oog(meter, gas, cost, "SLOAD")
            gas -= cost
            push(account_db._get_address_store(address).get(slot))
        elif kind == K_SHA3 and len(stack) >= 2:
            start, size = pop(), pop()
            if start.__class__ is not int:
                start = int.from_bytes(start, "big")
            if size.__class__ is not int:
                size = int.from_bytes(size, "big")
            if size and start + size > len(mem):
                meter.gas_remaining = gas
                computation.extend_memory(start, size)
                gas = meter.gas_remaining
                mem = memory._bytes
            cost = SHA3_WORD_GAS * ((size + 31) // 32)
            if cost > gas:
                raise _oog(meter, gas, cost, "SHA3: word gas cost")
            gas -= cost
            push(keccak(bytes(mem[start:start + size])))
        elif kind == K_CALLDATALOAD and stack:
            start = pop()
            if start.__class__ is not int:
                start = int.from_bytes(start, "big")
            push(message.data_as_bytes[start:start + 32].ljust(32, b"\x00").lstrip(b"\x00"))
        elif kind == K_CONTEXT:
            if len(stack) >= STACK_LIMIT:
                meter.gas_remaining = gas
                raise FullStack("Stack limit reached")
            push(message.sender if op == CALLER else message.value if op == CALLVALUE else len(message.data))
        elif kind == K_DYNAMIC or kind == K_INVALID:  # CALL, CREATE and others with dynamic gas, or an invalid opcode
            meter.gas_remaining = gas
            stream.program_counter = pc
            fn = computation.opcodes.get(op)
            (fn or InvalidOpcode(op))(computation=computation)
            pc = stream.program_counter
            gas = meter.gas_remaining
            mem = memory._bytes
        else:  # fixed gas, charged above: py-evm's logic (also the inline kinds' edge cases)
            meter.gas_remaining = gas
            stream.program_counter = pc
            computation.opcodes[op].logic_fn(computation)
            pc = stream.program_counter
            gas = meter.gas_remaining
            mem = memory._bytes


FastShanghaiState = ShanghaiState.configure(
    __name__="FastShanghaiState", computation_class=FastShanghaiComputation, account_db_class=BatchedAccountDB
)
_INDEX_KEYS = [rlp.encode(i) for i in range(4096)]


def _items_root(items) -> tuple[bytes, dict[bytes, bytes]]:
    """make_trie_root_and_nodes of py-evm, through mpt.py: (root, nodes) of the index -> item trie."""
    encoded = [item.encode() for item in items]
    keys = _INDEX_KEYS if len(encoded) <= len(_INDEX_KEYS) else [rlp.encode(i) for i in range(len(encoded))]
    nodes: dict[bytes, bytes] = {}
    return trie_root(zip(keys, encoded), nodes), nodes


class FastShanghaiVM(PermissionedShanghaiVM):
    """Shanghai, with the opcode loop above, batched storage tries, and transaction and receipt
    tries built by mpt.py (same roots as py-evm's HexaryTrie, each node hashed once)."""

    _state_class = FastShanghaiState

    def set_block_transactions_and_withdrawals(self, base_block, new_header, transactions, receipts,
                                               withdrawals=None):
        if withdrawals:
            return super().set_block_transactions_and_withdrawals(
                base_block, new_header, transactions, receipts, withdrawals)
        tx_root_hash, tx_nodes = _items_root(transactions)
        self.chaindb.persist_trie_data_dict(tx_nodes)
        receipt_root_hash, receipt_nodes = _items_root(receipts)
        self.chaindb.persist_trie_data_dict(receipt_nodes)
        self._built_transaction_root = (tuple(transactions), tx_root_hash)  # compared by value below
        header = new_header.copy(transaction_root=tx_root_hash, receipt_root=receipt_root_hash)
        return base_block.copy(transactions=transactions, header=header)

    def validate_block(self, block) -> None:
        """py-evm's checks, except that the transaction root just built above is not rebuilt."""
        built = getattr(self, "_built_transaction_root", None)
        if built is None or block.is_genesis or built[0] != block.transactions:
            return super().validate_block(block)
        if not isinstance(block, self.get_block_class()):
            raise ValidationError(f"This vm ({self!r}) is not equipped to validate a block of type {block!r}")
        self.validate_header(block.header, get_parent_header(block.header, self.chaindb))
        if built[1] != block.header.transaction_root:
            raise ValidationError(f"Block's transaction_root ({block.header.transaction_root!r}) "
                                  f"does not match expected value: {built[1]!r}")
        if len(block.uncles) > MAX_UNCLES:
            raise ValidationError(f"Blocks may have a maximum of {MAX_UNCLES} uncles.  Found {len(block.uncles)}.")
        if not self.chaindb.exists(block.header.state_root):
            if not self.state.make_state_root() == block.header.state_root:
                raise ValidationError(f"`state_root` does not match or was not found in the db.\n"
                                      f"- state_root: {block.header.state_root!r}")
        if keccak(rlp.encode(block.uncles)) != block.header.uncles_hash:
            raise ValidationError("`uncles_hash` and block `uncles` do not match.")
