"""What the report's codes mean, translated: scenarios, chains, refusal reasons (gateway codes and contracts'
custom errors), kinds of planted violation, outcomes, risk-alert rules, and the patterns of the English details
that the gateway, the audit and the risk monitor write (shown in the reader's language, the original kept in a
tooltip). A code nobody labelled is shown as it is: it is a name in the contracts or the code."""

from __future__ import annotations

import re

from ledger.present import fmt
from ledger.present.i18n import N_, translator

_ = translator("report")
F_ = translator("findings")  # rule titles belong to the rule catalogue's domain (the lead's)

SCENARIOS = {
    "share_transfer": N_("private-fund share transfer"),
    "warehouse_receipt": N_("standard warehouse receipts"),
    "regional_equity": N_("regional equity market"),
    "all": N_("all three markets"),
    "share_exit": N_("share-transfer platform exit"),
}
CHAINS = {
    "fund_platform": N_("fund share-transfer platform chain"),
    "receipt_platform": N_("warehouse-receipt platform chain"),
    "equity_market": N_("regional equity market chain"),
    "regulatory": N_("regulatory chain"),
}
OPTIONS = {
    "funds": N_("funds"), "investors": N_("investors"), "transfers": N_("transfers"), "batch": N_("batch"),
    "exit_drill": N_("exit drill"), "receipts": N_("receipts"), "warehouses": N_("warehouses"),
    "traders": N_("traders"), "banks": N_("banks"), "companies": N_("companies"), "violations": N_("violations"),
    "cap": N_("holder cap"), "anchor_interval": N_("anchor interval (blocks)"), "seed": N_("seed"),
}
WHERE = {"gateway": N_("gateway"), "contract": N_("contract")}
DETECT = {"chain": N_("the chain"), "regulator": N_("the regulator")}
STATUS = {"reverted": N_("reverted"), "refused": N_("refused"), "committed": N_("committed"),
          "active": N_("active"), "suspended": N_("suspended"), "revoked": N_("revoked"), "none": N_("not a member")}
MEMBERSHIP_EVENTS = {"MemberAdded": N_("admitted as member"), "RolesChanged": N_("roles changed"),
                     "StatusChanged": N_("status changed")}
FUND_FORMS = {0: N_("contractual fund"), 1: N_("joint-stock fund"), 2: N_("limited-partnership fund"),
              3: N_("limited-liability fund")}
COMPANY_FORMS = {0: N_("joint-stock company"), 1: N_("limited-liability company")}

# The gateway's reason codes (ledger.chain.gateway) and the contracts' custom errors.
REASONS = {
    "CERT_UNTRUSTED": N_("certificate not issued by the consortium CA"),
    "CERT_NOT_YET_VALID": N_("certificate not yet valid"),
    "CERT_EXPIRED": N_("certificate expired"),
    "CERT_REVOKED": N_("certificate revoked"),
    "CERT_KEY_MISMATCH": N_("certificate does not match the node's key"),
    "NOT_MEMBER": N_("not a consortium member"),
    "MEMBER_SUSPENDED": N_("member suspended"),
    "MEMBER_REVOKED": N_("membership revoked"),
    "ROLE_MISSING": N_("lacks the role the call needs"),
    "SIGNER_NOT_HELD": N_("signing account not held by the node"),
    "revert": N_("reverted without a reason"),
    "AccountAlreadyLinked": N_("account already linked"),
    "AccountNotLinked": N_("account not linked to the identity"),
    "AlreadyExecuted": N_("proposal already executed"),
    "AlreadyLinked": N_("already linked"),
    "AlreadyMember": N_("already a member"),
    "AlreadyPledged": N_("receipt already pledged"),
    "AlreadyRegistered": N_("already registered"),
    "AlreadyVoted": N_("already voted"),
    "AnchorIndexOutOfRange": N_("anchor index out of range"),
    "AnchorNotAfterLatest": N_("anchor not after the latest anchor"),
    "BelowMinimumHolding": N_("holding would fall below the minimum"),
    "BelowMinimumInvestment": N_("below the minimum investment"),
    "CallDataMismatch": N_("call data differ from the proposal"),
    "CancellationNotRequested": N_("holder never requested cancellation"),
    "ChainExists": N_("chain already registered"),
    "ClosingTimePassed": N_("closing time passed"),
    "CompanyExists": N_("company already listed"),
    "CompanyNotListed": N_("company not listed"),
    "DeclarationBelowLive": N_("declaration below the live receipts"),
    "DeclarationTooWide": N_("declaration lists too many investors"),
    "DepositoryRefInUse": N_("depository reference already in use"),
    "DocumentNotFound": N_("document not found"),
    "DuplicateInvestor": N_("investor declared twice"),
    "DuplicateReceipt": N_("duplicate receipt"),
    "EmptyBlockHash": N_("empty block hash"),
    "EmptyContentHash": N_("empty content hash"),
    "EmptyDepositoryRef": N_("empty depository reference"),
    "EmptyDocumentName": N_("empty document name"),
    "EmptyDocumentUri": N_("empty document location"),
    "ExceedsDeclaredStock": N_("exceeds the declared stock"),
    "ExceedsSharesOffered": N_("exceeds the shares offered"),
    "Expired": N_("receipt expired"),
    "FunctionClosed": N_("function closed: no role mapped"),
    "GovernanceOnly": N_("for governance only"),
    "HolderCapExceeded": N_("holder cap exceeded"),
    "IdentityExists": N_("identity already registered"),
    "InsufficientAllowance": N_("insufficient allowance"),
    "InsufficientBalance": N_("insufficient balance"),
    "InsufficientShares": N_("insufficient shares"),
    "InvalidChainId": N_("invalid chain id"),
    "InvalidCompanyId": N_("invalid company id"),
    "InvalidExpiry": N_("invalid expiry"),
    "InvalidKind": N_("invalid kind"),
    "InvalidLookThroughDepth": N_("invalid look-through depth"),
    "InvalidLookThroughLimits": N_("invalid look-through limits"),
    "InvalidRequestStatus": N_("request in the wrong status"),
    "InvalidTransition": N_("invalid status change"),
    "InvestorCapExceeded": N_("investor cap exceeded (look-through)"),
    "KindChanged": N_("kind of identity changed"),
    "LengthMismatch": N_("lists of different lengths"),
    "LifetimeOutOfRange": N_("lifetime out of range"),
    "LockupActive": N_("lock-up period not over"),
    "LookThroughIncomplete": N_("look-through incomplete"),
    "LookThroughTooDeep": N_("look-through too deep"),
    "LookThroughTooLarge": N_("look-through too large"),
    "MergeMismatch": N_("receipts to merge do not match"),
    "MissingInspectionCert": N_("inspection certificate missing"),
    "MissingRole": N_("role missing"),
    "ModuleAlreadyAdded": N_("compliance module already added"),
    "NoAnchorAt": N_("no anchor at that height"),
    "NoAnchors": N_("no anchors"),
    "NoMajority": N_("no majority"),
    "NotAContract": N_("not a contract"),
    "NotAVehicle": N_("not a vehicle"),
    "NotActiveMember": N_("not an active member"),
    "NotCustodian": N_("not the custodian"),
    "NotExpired": N_("not expired"),
    "NotFundManager": N_("not the fund's manager"),
    "NotGovernanceOnly": N_("not a governance-only function"),
    "NotHolder": N_("not the holder"),
    "NotIssuer": N_("not the issuer"),
    "NotIssuingWarehouse": N_("not the issuing warehouse"),
    "NotLender": N_("not a lender"),
    "NotListedCompany": N_("not a listed company"),
    "NotManaged": N_("not managed"),
    "NotPledged": N_("receipt not pledged"),
    "NotPledgee": N_("not the pledgee"),
    "NotQualified": N_("not a qualified investor"),
    "NotRegistered": N_("not registered"),
    "NotReporter": N_("not the chain's reporter"),
    "NotReporterMember": N_("reporter not a member"),
    "NotRequester": N_("not the requester"),
    "OfferingIsClosed": N_("offering closed"),
    "OfferingNotOpen": N_("offering not open"),
    "OfferingStillOpen": N_("offering still open"),
    "OnlyCompliance": N_("only the compliance contract"),
    "OnlyPermissions": N_("only the permission registry"),
    "PeriodNotAfterLatest": N_("period not after the latest report"),
    "PeriodNotEnded": N_("period not ended"),
    "PlatformNotPaused": N_("platform not paused"),
    "PlatformPaused": N_("platform paused"),
    "ProposalExpired": N_("proposal expired"),
    "QuantityMismatch": N_("quantities do not add up"),
    "ReceiptNotLive": N_("receipt no longer live"),
    "ReceiptPledged": N_("receipt is pledged"),
    "RegistryFixed": N_("registry fixed"),
    "ReportIndexOutOfRange": N_("report index out of range"),
    "ReservedRole": N_("reserved role"),
    "SameIdentity": N_("same identity"),
    "SharesFrozen": N_("shares frozen"),
    "SharesMustSumToWhole": N_("shares must add up to the whole"),
    "SubscriptionPeriodOver": N_("subscription period over"),
    "TermBeyondExpiry": N_("term beyond the receipt's expiry"),
    "TermNotEnded": N_("loan term not ended"),
    "TokenNotBound": N_("token not bound to the compliance"),
    "TooFewParts": N_("too few parts"),
    "TooManyModules": N_("too many compliance modules"),
    "TransferNotApproved": N_("transfer not approved by the manager"),
    "TransfereeNotQualified": N_("transferee not a qualified investor"),
    "UltimateInvestorNotQualified": N_("investor looked through not qualified"),
    "UnitMismatch": N_("units do not match"),
    "UnknownAccount": N_("unknown account"),
    "UnknownChain": N_("unknown chain"),
    "UnknownCompany": N_("unknown company"),
    "UnknownDeclaration": N_("unknown declaration"),
    "UnknownFund": N_("unknown fund"),
    "UnknownIdentity": N_("unknown identity"),
    "UnknownMember": N_("unknown member"),
    "UnknownModule": N_("unknown module"),
    "UnknownOffering": N_("unknown offering"),
    "UnknownProposal": N_("unknown proposal"),
    "UnknownReceipt": N_("unknown receipt"),
    "UnknownRequest": N_("unknown request"),
    "UnknownWallet": N_("unknown wallet"),
    "VehicleWithoutInvestors": N_("vehicle declares no investors"),
    "ZeroAddress": N_("zero address"),
    "ZeroAmount": N_("zero amount"),
    "ZeroPrice": N_("zero price"),
    "ZeroQuantity": N_("zero quantity"),
    "ZeroTerm": N_("zero term"),
}

# Kinds of planted violation (ground_truth.json "kind"): a name and what the scenario planted.
PLANTED = {
    "revoked_node": (N_("revoked node"), N_("a fund manager whose licence and certificate were revoked submits")),
    "suspended_node": (N_("suspended node"), N_("a suspended member submits")),
    "expired_certificate": (N_("expired certificate"), N_("a node submits after its certificate expired")),
    "non_member_node": (N_("node never admitted"), N_("a node certified by the CA but never admitted submits")),
    "untrusted_certificate": (N_("untrusted certificate"), N_("a node with a self-issued certificate submits")),
    "missing_role": (N_("missing role"), N_("a member calls a function its role does not allow")),
    "unqualified_transferee": (N_("unqualified transferee"),
                               N_("shares offered to an investor below the qualified-investor thresholds")),
    "unqualified_behind_vehicle": (N_("unqualified investor behind a vehicle"),
                                   N_("shares offered to a partnership with an unqualified investor behind it")),
    "cap_breach_nested_vehicle": (N_("investor cap breached through nested vehicles"),
                                  N_("a multi-level partnership would take a fund past its investor cap")),
    "lockup_breach": (N_("transfer during lock-up"), N_("a transfer requested during the fund's lock-up")),
    "below_minimum_holding": (N_("below the minimum holding"),
                              N_("a partial transfer that would leave the seller under the minimum holding")),
    "frozen_shares": (N_("sale of frozen shares"), N_("a holder sells shares frozen by a court order")),
    "unapproved_transfer": (N_("unapproved transfer"), N_("a transfer settled without the required approval")),
    "trade_after_exit": (N_("trade after the exit notice"), N_("a sale attempted after the platform paused")),
    "pooling_institution": (N_("pooling into an institution"),
                            N_("an institution pooling money from natural persons holds shares as one investor")),
    "split_identity": (N_("one person behind several identities"),
                       N_("one natural person registered as several identities")),
    "non_warehouse_issuance": (N_("receipt issued by a non-warehouse"),
                               N_("a member that is not a designated delivery warehouse issues a receipt")),
    "foreign_split": (N_("split of another warehouse's receipt"),
                      N_("a warehouse splits a receipt another warehouse issued")),
    "double_pledge": (N_("double pledge"), N_("a holder pledges a receipt already pledged to a second lender")),
    "cancel_without_request": (N_("cancellation without request"),
                               N_("a warehouse cancels a receipt its holder never asked to cancel")),
    "use_after_cancellation": (N_("use after cancellation"),
                               N_("the last holder of a cancelled receipt pledges it")),
    "use_after_expiry": (N_("use after expiry"), N_("a holder transfers a receipt past its expiry")),
    "over_issuance": (N_("over-issuance"), N_("a warehouse issues receipts beyond its declared stock")),
    "transfer_while_pledged": (N_("transfer while pledged"),
                               N_("a holder transfers a pledged receipt without the lender")),
    "pledged_delivery": (N_("delivery of a pledged receipt"),
                         N_("a pledged receipt is tendered for delivery against a futures position")),
    "early_enforcement": (N_("early enforcement of a pledge"),
                          N_("a lender seizes a pledged receipt before the loan's term has ended")),
    "double_financing": (N_("double financing"),
                         N_("one lot of goods receipted twice on one inspection certificate")),
    "stock_short": (N_("stock found short"),
                    N_("a warehouse declares stock it does not hold and issues receipts against it")),
    "agent_links_at_depository": (N_("account linked by an agent"),
                                  N_("an agent links an account that only the depository may link")),
    "unqualified_subscription": (N_("unqualified subscription"),
                                 N_("an investor below the thresholds subscribes to an offering")),
    "holder_cap_breach": (N_("holder cap breach"), N_("an allotment would take a company past its holder cap")),
    "unlinked_account_trade": (N_("trade from an unlinked account"),
                               N_("shares move to an account not linked at the depository")),
    "filing_for_another_company": (N_("filing for another company"),
                                   N_("a company files a disclosure in another company's name")),
    "rewritten_anchor": (N_("rewritten anchor"), N_("a block anchored on the regulatory chain is anchored again")),
    "missed_disclosure": (N_("missed disclosure"), N_("a periodic report not filed by its deadline")),
    "late_disclosure": (N_("late disclosure"), N_("a periodic report filed after its deadline")),
    "document_mismatch": (N_("document does not match"),
                          N_("a disclosed document's file no longer matches its hash on chain")),
    "unlicensed_kyc": (N_("unlicensed KYC agent"), N_("a node without the KYC role registers an investor")),
}

# The risk monitor's rules in runs written before its alerts came from the rule catalogue.
ALERT_RULES = {
    "near_cap": N_("holders near the cap"), "holders_near_cap": N_("holders near the cap"),
    "stock_shortfall": N_("stock found short"), "certificate_reused": N_("inspection certificate reused"),
    "disclosure_overdue": N_("disclosure overdue"),
}


def label(table: dict, key: object) -> str:
    """`key`'s translated label in `table`, or the key itself (a name in the code or the contracts)."""
    value = table.get(key)
    return _(value) if value is not None else str(key)


def reason(code: str | None) -> str:
    """What a refusal reason means ("lock-up period not over"), or "" for a code nobody labelled."""
    return _(REASONS[code]) if code in REASONS else ""


def scenario(name: str | None) -> str:
    return label(SCENARIOS, name) if name else "?"


def chain(name: str) -> str:
    """A chain's label; a sub-run's chain ("share_transfer/fund_platform") by its own name's label."""
    own = name.rsplit("/", 1)[-1]
    return _(CHAINS[own]) if own in CHAINS else name


def planted_kind(kind: str) -> tuple[str, str | None]:
    """A planted violation's name and description in the reader's language (None: use the scenario's own)."""
    if kind in PLANTED:
        name, description = PLANTED[kind]
        return _(name), _(description)
    return rule_title(kind), None


def rule_title(rule: str) -> str:
    """A catalogue rule's title, translated in the findings domain; an older run's monitor rules by our labels."""
    from ledger.supervision.catalogue import RULES_BY_ID

    found = RULES_BY_ID.get(rule)
    if found is not None:
        return F_(found.title)
    return _(ALERT_RULES[rule]) if rule in ALERT_RULES else rule


# ------------------------------------------------------------------ English details, in the reader's language

def _roles(text: str) -> str:
    return fmt.join(fmt.role_name(r) for r in text.split("|"))


# (pattern, message, how each group is shown): the details the gateway (ledger.chain.access, .gateway), the
# audit (ledger.audit) and the risk monitor (ledger.supervision.monitor) write.
DETAILS: list[tuple[re.Pattern, str, dict]] = [
    (re.compile(r"certificate serial (?P<serial>\d+)"), N_("certificate serial number {serial}"), {}),
    (re.compile(r"(?P<node>\S+) is (?P<status>suspended|revoked|none|active)"), N_("{node}: {status}"),
     {"status": lambda s: label(STATUS, s)}),
    (re.compile(r"(?P<call>\S+) is closed: no role is mapped to it"),
     N_("{call} is closed: no role is mapped to it"), {}),
    (re.compile(r"(?P<call>\S+) is for governance.*"),
     N_("{call} is for governance: only a passed proposal may call it"), {}),
    (re.compile(r"(?P<call>\S+) needs (?P<roles>[A-Z_|]+)"), N_("{call} needs the role {roles}"),
     {"roles": _roles}),
    (re.compile(r"certificate is not for this node's key"), N_("the certificate is not for this node's key"), {}),
    (re.compile(r"(?P<node>\S+) does not hold (?P<account>0x[0-9a-fA-F]+)"),
     N_("{node} does not hold the account {account}"), {"account": fmt.short_id}),
    (re.compile(r"(?P<node>\S+) signed with another member's key \((?P<account>0x[0-9a-fA-F]+)\)"),
     N_("{node} signed with another member's key ({account})"), {"account": fmt.short_id}),
    (re.compile(r"(?P<node>\S+) never was a member of (?P<chain>\S+)"), N_("{node} never was a member of {chain}"),
     {"chain": chain}),
    (re.compile(r"re-executed from genesis on stock py-evm"), N_("re-executed from genesis on stock py-evm"), {}),
    (re.compile(r"re-executed from genesis on revm \(Anvil\)"), N_("re-executed from genesis on revm (Anvil)"), {}),
    (re.compile(r"re-executed from genesis on py-evm$"), N_("re-executed from genesis on py-evm"), {}),
    (re.compile(r"re-read from the node at (?P<url>\S+)"), N_("re-read from the node at {url}"), {}),
    (re.compile(r"(?P<copy>.+) lags: it ends at block (?P<held>\d+) of (?P<head>\d+)"),
     N_("{copy} lags behind: it ends at block {held} of {head}"), {}),
    (re.compile(r"no copy held by (?P<nodes>.+), by the run's choice \(--node-copies (?P<choice>\S+)\)"),
     N_("no copy held by {nodes}, by the run's choice (--node-copies {choice})"), {}),
    (re.compile(r"(?P<asset>\S+) has (?P<count>\d+) (look-through holder units|holders) of its cap (?P<cap>\d+)"),
     N_("{asset} has {count} look-through holders against its cap of {cap}"), {}),
    (re.compile(r"warehouse (?P<warehouse>0x[0-9a-fA-F]+) has (?P<live>\d+) live against (?P<declared>\d+) declared"),
     N_("warehouse {warehouse} has receipts for {live} live against {declared} declared"),
     {"live": lambda v: fmt.quantity(int(v) / 1000, "t"), "declared": lambda v: fmt.quantity(int(v) / 1000, "t")}),
    (re.compile(r"receipt (?P<receipt>\d+) is issued on the inspection certificate of receipt (?P<first>\d+)"),
     N_("receipt {receipt} is issued on the inspection certificate of receipt {first}"), {}),
    (re.compile(r"a periodic report of company (?P<company>0x[0-9a-fA-F]+) was filed after its deadline "
                r"(?P<due>\d+)"),
     N_("a periodic report of {company} was filed after its deadline {due}"),
     {"company": fmt.company, "due": lambda v: fmt.date_time(int(v))}),
    (re.compile(r"company (?P<company>0x[0-9a-fA-F]+) is overdue with a periodic report due (?P<due>\d+)"),
     N_("{company} is overdue with a periodic report due {due}"),
     {"company": fmt.company, "due": lambda v: fmt.date_time(int(v))}),
]


def detail(text: object, names: dict[str, str] | None = None) -> str:
    """An English detail written by the gateway, the audit or the monitor, in the reader's language when its
    pattern is known (else as written). `names` maps addresses to names, shown beside them."""
    text = "" if text is None else str(text)
    for pattern, message, shown in DETAILS:
        match = pattern.fullmatch(text.strip())
        if match:
            values = {k: shown[k](v) if k in shown else v for k, v in match.groupdict().items()}
            for k, v in match.groupdict().items():
                if names and k in ("warehouse", "account") and v.lower() in names:
                    values[k] = fmt.party(v, names[v.lower()])
            return _(message).format(**values)
    return text
