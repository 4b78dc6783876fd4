"""Role bits, member status and governance actions, mirroring contracts/access/Roles.sol and PermissionRegistry."""

from __future__ import annotations

import enum


class Role(enum.IntFlag):
    ADMIN = 1 << 0
    VALIDATOR = 1 << 1
    KYC_AGENT = 1 << 2
    PLATFORM = 1 << 3
    FUND_MANAGER = 1 << 4
    CUSTODIAN = 1 << 5
    INVESTOR_AGENT = 1 << 6
    REGULATOR = 1 << 7
    CASH_ISSUER = 1 << 8
    FUTURES_EXCHANGE = 1 << 9
    WAREHOUSE = 1 << 10
    LENDER = 1 << 11
    TRADER = 1 << 12
    EQUITY_CENTER = 1 << 13
    LISTED_COMPANY = 1 << 14
    DEPOSITORY = 1 << 15
    # Reserved: no member may hold it (the registry refuses it). A function mapped to it is governance-only:
    # only the registry, executing a passed CALL_TARGET proposal, may call it (ledger.chain.access).
    GOVERNANCE = 1 << 255

    @classmethod
    def names(cls, mask: int) -> list[str]:
        return [r.name for r in cls if mask & r]


NO_ROLE = Role(0)


class MemberStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3


class GovernanceAction(enum.IntEnum):
    ADD_MEMBER = 0
    SET_ROLES = 1
    SUSPEND = 2
    REACTIVATE = 3
    REVOKE = 4
    SET_PROPOSAL_LIFETIME = 5  # the new lifetime, in blocks, goes in the proposal's roles argument
    # The function map's actions name the target contract as the proposal's account (ledger.chain.access).
    SET_FUNCTION_ROLE = 6  # the selector left-aligned in orgId, the role mask in roles
    ADOPT_DECLARED_ROLES = 7  # the target's declaredRoles() gives the entries
    SET_CONTRACT_REGISTRY = 8  # the target's new registry, as a number, in roles
    CALL_TARGET = 9  # keccak256 of the calldata in orgId, its selector as a number in roles
