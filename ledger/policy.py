"""The gateway's role policy: the role a submitting node must hold for each call.

The contracts check the same roles on chain; the gateway checks them first so a
call that cannot succeed is refused before execution, with a reason code. A call
signed by an investor's own account is submitted by the investor agent that
holds the account, so it needs INVESTOR_AGENT."""

from __future__ import annotations

from .roles import NO_ROLE, Role

DEPLOY = "<deploy>"

GATEWAY_POLICY: dict[str, dict[str, Role]] = {
    "PermissionRegistry": {DEPLOY: Role.PLATFORM, "propose": Role.ADMIN, "vote": Role.ADMIN, "execute": Role.ADMIN},
    "IdentityRegistry": {
        DEPLOY: Role.PLATFORM,
        "registerIdentity": Role.KYC_AGENT,
        "linkAccount": Role.KYC_AGENT,
        "setQualification": Role.KYC_AGENT,
        "declareInvestors": Role.KYC_AGENT,
    },
    "SettlementCash": {
        DEPLOY: Role.PLATFORM,
        "mint": Role.CASH_ISSUER,
        "transfer": Role.INVESTOR_AGENT,
        "approve": Role.INVESTOR_AGENT,
        "transferFrom": Role.INVESTOR_AGENT,
    },
    "PrivateFundShares": {
        DEPLOY: Role.PLATFORM,
        "createFund": Role.FUND_MANAGER,
        "closeOffering": Role.FUND_MANAGER,
        "subscribe": Role.INVESTOR_AGENT,
        "requestTransfer": Role.INVESTOR_AGENT,
        "approveTransfer": Role.FUND_MANAGER,
        "rejectTransfer": Role.FUND_MANAGER,
        "cancelTransfer": Role.INVESTOR_AGENT,
        "settleTransfer": Role.PLATFORM,
        "freeze": Role.REGULATOR,
        "unfreeze": Role.REGULATOR,
        "forcedTransfer": Role.REGULATOR,
    },
}


def required_role(contract: str, function: str) -> Role:
    """The role needed to submit `function` of `contract`; any active member may call the rest."""
    return GATEWAY_POLICY.get(contract, {}).get(function, NO_ROLE)
