"""The header rules of a permissioned network, on stock py-evm's Shanghai VM.

A consortium chain (Besu QBFT/IBFT, GoQuorum) fixes its block gas limit in the genesis file and
charges no fee. Mainnet's rules do neither: the gas limit moves towards a target by about 0.1% a
block (so a long run ends with "Transaction exceeds gas limit"), and the base fee rises after any
block more than half full (after which every gas-price-0 transaction is refused). Execution is
untouched: only how a header follows its parent."""

from __future__ import annotations

from eth.abc import BlockHeaderAPI
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.headers import create_shanghai_header_from_parent
from eth_utils import ValidationError

BLOCK_GAS_LIMIT = 2_000_000_000  # every block's gas limit: the chain parameter a consortium configures
CALL_GAS = BLOCK_GAS_LIMIT // 10  # the gas of a read-only call (a view), on every engine
COINBASE = b"\0" * 20  # every block's fee recipient (the fees are 0)
# The genesis allocation: the fee recipient holds 1 wei, so that it is never an empty account. Touched by every
# transaction's (zero) fee, an empty recipient is deleted again under EIP-161 by py-evm and geth, but kept
# by Anvil; a recipient that is not empty is kept by all, and the engines' state roots agree.
GENESIS_ALLOC = {COINBASE: 1}


class PermissionedShanghaiVM(ShanghaiVM):
    """Stock Shanghai: every block keeps its parent's gas limit (so the genesis one) and a base fee of 0."""

    @staticmethod
    def create_header_from_parent(parent_header: BlockHeaderAPI | None, **header_params) -> BlockHeaderAPI:
        if parent_header is not None:
            header_params.setdefault("gas_limit", parent_header.gas_limit)
        header = create_shanghai_header_from_parent(parent_header, **header_params)
        return header.copy(base_fee_per_gas=0) if header.base_fee_per_gas else header

    @classmethod
    def validate_gas(cls, header: BlockHeaderAPI, parent_header: BlockHeaderAPI) -> None:
        if header.gas_limit != parent_header.gas_limit:
            raise ValidationError(f"block gas limit {header.gas_limit} is not the chain's {parent_header.gas_limit}")
        if header.base_fee_per_gas != 0:
            raise ValidationError(f"block base fee {header.base_fee_per_gas} is not 0")
