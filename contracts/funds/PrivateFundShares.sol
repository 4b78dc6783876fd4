// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {ComplianceParameters} from "../compliance/ComplianceParameters.sol";
import {CompliantRegister} from "../compliance/CompliantRegister.sol";
import {ICompliance} from "../compliance/ICompliance.sol";
import {Movement, MovementKind} from "../compliance/IComplianceModule.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ISettlementCash} from "../settlement/ISettlementCash.sol";
import {FundRegister} from "./FundRegister.sol";
import {FundTransfers} from "./FundTransfers.sol";

/// @title PrivateFundShares
/// @notice Shares of private investment funds and their transfer platform (私募投资基金监督管理暂行办法,
/// 2014). One share is one yuan subscribed. This contract keeps the funds (created by their managers,
/// subscribed during the offering); its bases keep the register (FundRegister), the enforcement
/// (FundEnforcement) and the transfer workflow (FundTransfers). The investor rules are compliance
/// modules (contracts/compliance/): the platform registers qualification with look-through, the
/// look-through holder cap, the minimum holding and the lock-up; each fund's cap (by legal form),
/// lock-up end and minimum holding are set as the fund's parameters when it is created.
contract PrivateFundShares is FundTransfers {
    enum LegalForm { Contractual, JointStock, LimitedPartnership, LimitedLiabilityCompany }

    struct Fund {
        address manager;
        address custodian;
        LegalForm form;
        bool offeringOpen;
        uint256 totalShares;
    }

    /// @notice Least one subscription may be, and least an investor may hold (1,000,000 CNY in one fund).
    uint256 public immutable minimumInvestment;
    uint32[4] private _capByForm;

    uint256 public fundCount;
    mapping(uint256 => Fund) private _funds;

    event FundCreated(
        uint256 indexed fundId, address indexed manager, address custodian, LegalForm form, uint32 cap, uint64 lockupEnd
    );
    event OfferingClosed(uint256 indexed fundId);
    event Subscribed(uint256 indexed fundId, address indexed account, bytes32 indexed identity, uint256 amount);

    error UnknownFund(uint256 fundId);
    error NotFundManager(uint256 fundId, address caller);
    error NotCustodian(address custodian);
    error OfferingIsClosed(uint256 fundId);
    error BelowMinimumInvestment(uint256 amount, uint256 minimum);

    /// @param capByForm_ Investor caps by legal form: contractual, joint-stock, LP, LLC.
    constructor(
        PermissionRegistry permissions_,
        IIdentityRegistry identities_,
        ISettlementCash cash_,
        ICompliance compliance_,
        uint32[4] memory capByForm_,
        uint256 minimumInvestment_
    ) AccessManaged(permissions_) CompliantRegister(identities_, compliance_) FundTransfers(cash_) {
        _capByForm = capByForm_;
        minimumInvestment = minimumInvestment_;
    }

    /// @inheritdoc AccessManaged
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](16);
        t[0] = FunctionRole(this.createFund.selector, Roles.FUND_MANAGER);
        t[1] = FunctionRole(this.closeOffering.selector, Roles.FUND_MANAGER);
        t[2] = FunctionRole(this.approveTransfer.selector, Roles.FUND_MANAGER);
        t[3] = FunctionRole(this.rejectTransfer.selector, Roles.FUND_MANAGER);
        // Signed by the investor's own account, submitted by the investor agent holding it.
        t[4] = FunctionRole(this.subscribe.selector, Roles.INVESTOR_AGENT);
        t[5] = FunctionRole(this.requestTransfer.selector, Roles.INVESTOR_AGENT);
        t[6] = FunctionRole(this.cancelTransfer.selector, Roles.INVESTOR_AGENT);
        t[7] = FunctionRole(this.settleTransfer.selector, Roles.PLATFORM);
        t[8] = FunctionRole(this.pause.selector, Roles.PLATFORM);
        t[9] = FunctionRole(this.unpause.selector, Roles.PLATFORM);
        t[10] = FunctionRole(this.freeze.selector, Roles.REGULATOR);
        t[11] = FunctionRole(this.unfreeze.selector, Roles.REGULATOR);
        t[12] = FunctionRole(this.forcedTransfer.selector, Roles.REGULATOR);
        t[13] = FunctionRole(this.setIdentities.selector, Roles.GOVERNANCE);
        t[14] = FunctionRole(this.setCompliance.selector, Roles.GOVERNANCE);
        t[15] = FunctionRole(this.setCash.selector, Roles.GOVERNANCE);
    }

    /// @notice The investor cap a fund of legal form `form` is created with.
    function capByForm(LegalForm form) external view returns (uint32) {
        return _capByForm[uint8(form)];
    }

    /// @notice Creates a fund managed by the caller, with its cap set by its legal form.
    /// @return fundId The new fund's id.
    function createFund(LegalForm form, address custodian, uint64 lockupEnd)
        external
        restricted
        returns (uint256 fundId)
    {
        _whenNotPaused();
        if (!permissions.hasRole(custodian, Roles.CUSTODIAN)) revert NotCustodian(custodian);
        fundId = ++fundCount;
        uint32 cap = _capByForm[uint8(form)];
        _funds[fundId] = Fund(msg.sender, custodian, form, true, 0);
        compliance.setAssetParameter(fundId, ComplianceParameters.HOLDER_CAP, cap);
        compliance.setAssetParameter(fundId, ComplianceParameters.LOCKUP_END, lockupEnd);
        compliance.setAssetParameter(fundId, ComplianceParameters.MINIMUM_HOLDING, minimumInvestment);
        emit FundCreated(fundId, msg.sender, custodian, form, cap, lockupEnd);
    }

    /// @notice Ends the fund's offering; shares then change hands only by transfer.
    function closeOffering(uint256 fundId) external restricted {
        _onlyManager(fundId);
        _funds[fundId].offeringOpen = false;
        emit OfferingClosed(fundId);
    }

    /// @notice The record of fund `fundId`.
    function fund(uint256 fundId) external view returns (Fund memory) {
        _requireFund(fundId);
        return _funds[fundId];
    }

    /// @notice Subscribes `amount` yuan, paid in settlement cash to the fund's custodian.
    /// The caller must have approved this contract on SettlementCash.
    function subscribe(uint256 fundId, uint256 amount) external {
        _whenNotPaused();
        _requireFund(fundId);
        Fund storage f = _funds[fundId];
        if (!f.offeringOpen) revert OfferingIsClosed(fundId);
        if (amount < minimumInvestment) revert BelowMinimumInvestment(amount, minimumInvestment);
        Movement memory m = _movement(MovementKind.Issuance, fundId, address(0), msg.sender, amount);
        _make(m);
        cash.transferFrom(msg.sender, f.custodian, amount);
        f.totalShares += amount;
        emit Subscribed(fundId, msg.sender, m.toId, amount);
    }

    function _onlyManager(uint256 fundId) internal view override {
        _requireFund(fundId);
        if (_funds[fundId].manager != msg.sender) revert NotFundManager(fundId, msg.sender);
    }

    function _requireFund(uint256 fundId) internal view override {
        if (_funds[fundId].manager == address(0)) revert UnknownFund(fundId);
    }
}
