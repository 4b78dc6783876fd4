// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ComplianceModule} from "./ComplianceModule.sol";
import {ComplianceParameters} from "./ComplianceParameters.sol";
import {ICompliance} from "./ICompliance.sol";
import {Movement, MovementKind} from "./IComplianceModule.sol";

/// @title HolderCapModule
/// @notice An asset's holders stay within its `holderCap` parameter, counted in units:
///  - holders are counted per identity, not per account;
///  - a natural person, an institution or a registered product counts 1, and so does every identity
///    of a token bound with look-through depth 0 (a company's shareholders);
///  - for a token that looks through (a private fund), an unregistered vehicle counts the units of its
///    declared investors, looked through recursively (Movement.entry, resolved by the compliance);
///  - an identity's units are fixed when it becomes a holder and released when its holding returns to
///    zero; overlaps between vehicles are not de-duplicated on chain, so the count errs on the strict side;
///  - units promised to an open offering's accepted subscriptions (Movement.reserved) count too.
/// A forced transfer is not refused, but its units are counted. Every change of an asset's holders is
/// an event carrying the units, the asset's total and its cap, so a reader re-derives none of them.
/// The error names what is counted: investors after look-through (InvestorCapExceeded, a fund's rule)
/// or holders (HolderCapExceeded, a company's).
contract HolderCapModule is ComplianceModule {
    /// @notice Units of each asset of each token.
    mapping(address => mapping(uint256 => uint32)) public holderUnits;
    /// @notice Units each holder identity counts for, per token and asset.
    mapping(address => mapping(uint256 => mapping(bytes32 => uint32))) public holderUnitsOf;

    event HolderEntered(
        address indexed token, uint256 indexed asset, bytes32 indexed identity, uint32 units, uint32 holders, uint32 cap
    );
    event HolderExited(
        address indexed token, uint256 indexed asset, bytes32 indexed identity, uint32 units, uint32 holders, uint32 cap
    );

    error InvestorCapExceeded(uint256 fundId, uint32 cap, uint256 wouldBe);
    error HolderCapExceeded(bytes32 companyId, uint256 holders, uint32 cap);
    error LookThroughIncomplete(bytes32 identity);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) ComplianceModule(permissions_, compliance_) {}

    function check(Movement calldata m) external view {
        if (m.kind == MovementKind.Forced || m.fromId == m.toId || m.toHolding != 0) return;
        // The qualification module, registered before this one, names an unqualified identity; without
        // it a walk stopped on one gives no count, and the movement is refused rather than undercounted.
        if (m.entry.failure != IIdentityRegistry.Failure.None) revert LookThroughIncomplete(m.entry.identity);
        uint256 wouldBe = uint256(holderUnits[m.token][m.asset]) + m.reserved + m.entry.units - _released(m);
        uint32 cap = _cap(m);
        if (wouldBe <= cap) return;
        if (compliance.lookThroughDepth(m.token) == 0) revert HolderCapExceeded(bytes32(m.asset), wouldBe, cap);
        revert InvestorCapExceeded(m.asset, cap, wouldBe);
    }

    function _moved(Movement calldata m) internal override {
        if (m.fromId == m.toId) return;
        mapping(bytes32 => uint32) storage unitsOf = holderUnitsOf[m.token][m.asset];
        uint32 released = _released(m);
        if (m.kind != MovementKind.Issuance && m.fromHolding == m.amount) {
            uint32 left = holderUnits[m.token][m.asset] -= released;
            delete unitsOf[m.fromId];
            emit HolderExited(m.token, m.asset, m.fromId, released, left, _cap(m));
        }
        if (m.toHolding == 0) {
            uint32 units = m.entry.units;
            uint32 total = holderUnits[m.token][m.asset] += units;
            unitsOf[m.toId] = units;
            emit HolderEntered(m.token, m.asset, m.toId, units, total, _cap(m));
        }
    }

    /// @dev Units the sender gives up by selling its whole holding.
    function _released(Movement calldata m) private view returns (uint32) {
        if (m.kind == MovementKind.Issuance || m.fromHolding != m.amount) return 0;
        return holderUnitsOf[m.token][m.asset][m.fromId];
    }

    function _cap(Movement calldata m) private view returns (uint32) {
        // The token sets the parameter from a uint32 cap.
        return uint32(_parameter(m, ComplianceParameters.HOLDER_CAP));
    }
}
