// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {ICompliance} from "./ICompliance.sol";

/// @title CompliantRegister
/// @notice What every market's register shares: the identity registry it reads holders' identities
/// from and the compliance contract that checks every movement, both changed by governance only, and
/// ERC-1155's TransferSingle for every holding change, so standard indexers can follow holdings.
abstract contract CompliantRegister is AccessManaged {
    IIdentityRegistry public identities;
    ICompliance public compliance;

    /// @notice ERC-1155's event: `value` units of asset `id` (a fund, or a company) move from account
    /// `from` (zero: issued or allotted) to account `to`.
    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event IdentitiesChanged(address indexed identities);
    event ComplianceChanged(address indexed compliance);

    error UnknownAccount(address account);
    error ZeroAmount();

    constructor(IIdentityRegistry identities_, ICompliance compliance_) {
        identities = identities_;
        compliance = compliance_;
        emit IdentitiesChanged(address(identities_));
        emit ComplianceChanged(address(compliance_));
    }

    /// @notice Reads identities from another registry; governance-only (see Roles.GOVERNANCE).
    function setIdentities(IIdentityRegistry next) external restricted {
        identities = next;
        emit IdentitiesChanged(address(next));
    }

    /// @notice Checks holdings against another compliance contract; governance-only.
    function setCompliance(ICompliance next) external restricted {
        compliance = next;
        emit ComplianceChanged(address(next));
    }

    /// @dev The identity of `account`; reverts UnknownAccount when it has none.
    function _identityOf(address account) internal view returns (bytes32 id) {
        id = identities.identityOf(account);
        if (id == bytes32(0)) revert UnknownAccount(account);
    }
}
