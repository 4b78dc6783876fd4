"""The gateway's role policy: the role a submitting node must hold for each call.

The contracts check the same roles on chain; the gateway checks them first so a
call that cannot succeed is refused before execution, with a reason code. A call
signed by an investor's own account is submitted by the investor agent that
holds the account, so it needs INVESTOR_AGENT."""

from __future__ import annotations

from ledger.chain.roles import NO_ROLE, Role

DEPLOY = "<deploy>"

GATEWAY_POLICY: dict[str, dict[str, Role]] = {
    "PermissionRegistry": {DEPLOY: Role.PLATFORM, "propose": Role.ADMIN, "vote": Role.ADMIN, "execute": Role.ADMIN},
    "IdentityRegistry": {
        DEPLOY: Role.PLATFORM,
        "registerIdentity": Role.KYC_AGENT,
        "linkAccount": Role.KYC_AGENT,
        "setQualification": Role.KYC_AGENT,
        "declareInvestors": Role.KYC_AGENT,
        "setLookThroughLimits": Role.ADMIN,
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
        "pause": Role.PLATFORM,
        "unpause": Role.PLATFORM,
        "freeze": Role.REGULATOR,
        "unfreeze": Role.REGULATOR,
        "forcedTransfer": Role.REGULATOR,
    },
    # Deployed by the futures exchange's node, which runs the warehouse-receipt platform.
    # transfer, pledge and requestCancellation are signed by the holder (a member's account
    # or a client account its node holds) and markExpired by any member: no role needed.
    "WarehouseReceipt": {
        DEPLOY: Role.FUTURES_EXCHANGE,
        "declareStock": Role.WAREHOUSE,
        "inspectStock": Role.FUTURES_EXCHANGE,
        "correctDeclaration": Role.FUTURES_EXCHANGE,
        "issue": Role.WAREHOUSE,
        "register": Role.FUTURES_EXCHANGE,
        "deliver": Role.FUTURES_EXCHANGE,
        "split": Role.WAREHOUSE,
        "merge": Role.WAREHOUSE,
        "cancel": Role.WAREHOUSE,
        "release": Role.LENDER,
        "enforce": Role.LENDER,
    },
    # Regional equity market business chain, deployed by the equity center's node.
    # allot and cancelOffering are open to the company's issuer or the center, and
    # checkOverdue to anyone: the contracts check those, the gateway needs no role.
    "AccountLinkage": {
        DEPLOY: Role.EQUITY_CENTER,
        "linkAccount": Role.DEPOSITORY,
        "unlinkAccount": Role.DEPOSITORY,
    },
    "EquityMarket": {
        DEPLOY: Role.EQUITY_CENTER,
        "listCompany": Role.EQUITY_CENTER,
        "delistCompany": Role.EQUITY_CENTER,
        "openOffering": Role.LISTED_COMPANY,
        "subscribe": Role.INVESTOR_AGENT,
        "transferShares": Role.INVESTOR_AGENT,
    },
    "Disclosure": {
        DEPLOY: Role.EQUITY_CENTER,
        "setSchedule": Role.EQUITY_CENTER,
        "setDocument": Role.LISTED_COMPANY,
        "removeDocument": Role.LISTED_COMPANY,
    },
    # Regulatory chain, deployed by the regulator's node. anchor and report are sent by the
    # chain's registered reporter, holding PLATFORM or EQUITY_CENTER: checked on chain.
    "ReportRegistry": {
        DEPLOY: Role.REGULATOR,
        "registerChain": Role.REGULATOR,
        "setReporter": Role.REGULATOR,
    },
}


def required_role(contract: str, function: str) -> Role:
    """The role needed to submit `function` of `contract`; any active member may call the rest."""
    return GATEWAY_POLICY.get(contract, {}).get(function, NO_ROLE)
