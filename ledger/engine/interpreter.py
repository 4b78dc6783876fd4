"""A faster opcode loop for py-evm's Shanghai rules, with the same results.

py-evm runs each opcode through a generator, an opcode object, a gas-meter call
and stack methods, and re-derives which JUMPDESTs are valid in every call frame.
Most executed opcodes are PUSH, DUP, SWAP, POP, JUMP, JUMPI and JUMPDEST, so this
loop runs those inline on the stack list, charges the fixed gas of the others
inline, and analyses each contract's code for jump destinations once. Every other
opcode runs py-evm's own logic, and every failure raises py-evm's own exception,
so state, gas and receipts are byte-for-byte those of stock py-evm (the benchmark
and tests/test_engine.py replay blocks on stock py-evm and compare head hashes).
"""

from __future__ import annotations

from functools import lru_cache

from eth.exceptions import FullStack, Halt, InsufficientStack, InvalidInstruction, InvalidJumpDestination, OutOfGas
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.computation import ShanghaiComputation
from eth.vm.forks.shanghai.state import ShanghaiState
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import (
    ADD, AND, CALLDATALOAD, CALLDATASIZE, CALLER, CALLVALUE, DUP1, DUP16, EQ, GT, ISZERO, JUMP, JUMPDEST, JUMPI, LT,
    MLOAD, MSTORE, NOT, OR, POP, PUSH0, PUSH1, PUSH32, SHL, SHR, STOP, SUB, SWAP1, SWAP16, XOR,
)

from .tries import NodeCachingAccountDB

STACK_LIMIT = 1024
NO_RESULT = object()
WORD = 2**256 - 1

CONTEXT_PUSHES = frozenset((CALLER, CALLVALUE, CALLDATASIZE))

# Two-operand opcodes as py-evm's logic computes them: (top of stack, next) -> result.
BINARY = {
    ADD: lambda a, b: (a + b) & WORD,
    SUB: lambda a, b: (a - b) & WORD,
    AND: lambda a, b: a & b,
    OR: lambda a, b: a | b,
    XOR: lambda a, b: a ^ b,
    EQ: lambda a, b: int(a == b),
    LT: lambda a, b: int(a < b),
    GT: lambda a, b: int(a > b),
    SHL: lambda a, b: 0 if a >= 256 else (b << a) & WORD,
    SHR: lambda a, b: 0 if a >= 256 else b >> a,
}


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


def _run(computation) -> None:
    """The opcode loop; py-evm's CodeStream keeps the program counter for the opcodes run by py-evm."""
    opcodes = computation.opcodes
    stream = computation.code
    code = computation.msg.code
    end = len(code)
    destinations = None
    stack = computation._stack.values
    push, pop = stack.append, stack.pop
    meter = computation._gas_meter
    memory = computation._memory
    pc = 0
    while True:
        op = code[pc] if pc < end else STOP
        pc += 1
        fn = opcodes.get(op)
        if fn.__class__ is not _FastOpcode:  # CALL, CREATE and others with dynamic gas, or an invalid opcode
            stream.program_counter = pc
            (fn or InvalidOpcode(op))(computation=computation)
            pc = stream.program_counter
            continue
        cost = fn.gas_cost
        if cost > meter.gas_remaining:
            raise OutOfGas(f"Out of gas: Needed {cost} - Remaining {meter.gas_remaining} - Reason: {fn.mnemonic}")
        meter.gas_remaining -= cost
        if PUSH1 <= op <= PUSH32:
            if len(stack) >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            size = op - PUSH1 + 1
            value = code[pc:pc + size]
            pc += size
            push(value if len(value) == size else value.ljust(size, b"\x00"))
        elif op == JUMPDEST:
            pass
        elif op == POP:
            if not stack:
                raise InsufficientStack("Wanted 1 stack item, had none")
            pop()
        elif SWAP1 <= op <= SWAP16:
            idx = SWAP1 - op - 2
            try:
                stack[-1], stack[idx] = stack[idx], stack[-1]
            except IndexError:
                raise InsufficientStack(f"Insufficient stack items for SWAP{op - SWAP1 + 1}") from None
        elif DUP1 <= op <= DUP16:
            if len(stack) >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            try:
                push(stack[DUP1 - op - 1])
            except IndexError:
                raise InsufficientStack(f"Insufficient stack items for DUP{op - DUP1 + 1}") from None
        elif op == JUMPI:
            if len(stack) < 2:
                raise InsufficientStack(f"Wanted 2 stack items, only had {len(stack)}")
            dest, condition = pop(), pop()
            if _as_int(condition):
                if destinations is None:
                    destinations = jump_destinations(code)
                pc = _jump_target(code, destinations, _as_int(dest))
        elif op == JUMP:
            if not stack:
                raise InsufficientStack("Wanted 1 stack item, had none")
            if destinations is None:
                destinations = jump_destinations(code)
            pc = _jump_target(code, destinations, _as_int(pop()))
        elif op in BINARY:
            if len(stack) < 2:
                raise InsufficientStack(f"Wanted 2 stack items, only had {len(stack)}")
            a, b = pop(), pop()
            push(BINARY[op](_as_int(a), _as_int(b)))
        elif op == ISZERO or op == NOT:
            if not stack:
                raise InsufficientStack("Wanted 1 stack item, had none")
            a = _as_int(pop())
            push(int(a == 0) if op == ISZERO else WORD - a)
        elif op == PUSH0:
            if len(stack) >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            push(b"")  # as py-evm's push0 does
        elif op == MSTORE and len(stack) >= 2 and _as_int(stack[-1]) + 32 <= len(memory._bytes):
            start = _as_int(pop())  # within memory already: no expansion, so no gas beyond the fixed cost
            value = pop()
            memory._bytes[start:start + 32] = value.to_bytes(32, "big") if value.__class__ is int \
                else value.rjust(32, b"\x00")[-32:]
        elif op == MLOAD and stack and _as_int(stack[-1]) + 32 <= len(memory._bytes):
            start = _as_int(pop())
            push(bytes(memory._bytes[start:start + 32]))
        elif op in CONTEXT_PUSHES:
            if len(stack) >= STACK_LIMIT:
                raise FullStack("Stack limit reached")
            message = computation.msg
            push(message.sender if op == CALLER else message.value if op == CALLVALUE else len(message.data))
        elif op == CALLDATALOAD and stack:
            start = _as_int(pop())
            push(computation.msg.data_as_bytes[start:start + 32].ljust(32, b"\x00").lstrip(b"\x00"))
        else:
            stream.program_counter = pc
            fn.logic_fn(computation)
            pc = stream.program_counter


FastShanghaiState = ShanghaiState.configure(
    __name__="FastShanghaiState", computation_class=FastShanghaiComputation, account_db_class=NodeCachingAccountDB
)
FastShanghaiVM = ShanghaiVM.configure(__name__="FastShanghaiVM", _state_class=FastShanghaiState)
