// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {ICompliance} from "./ICompliance.sol";
import {IComplianceModule, Movement} from "./IComplianceModule.sol";

/// @title ComplianceModule
/// @notice The base of a compliance module: the compliance contract it serves (settable by governance),
/// which alone may tell it of completed movements, and its rule parameters read from there. A stateless
/// rule implements `check` only; a rule with state also overrides `_moved`.
abstract contract ComplianceModule is AccessManaged, IComplianceModule {
    ICompliance public compliance;

    event ComplianceChanged(address indexed compliance);

    error OnlyCompliance(address caller);

    constructor(PermissionRegistry permissions_, ICompliance compliance_) AccessManaged(permissions_) {
        compliance = compliance_;
        emit ComplianceChanged(address(compliance_));
    }

    /// @notice Serves another compliance contract; governance-only (see Roles.GOVERNANCE).
    function setCompliance(ICompliance next) external restricted {
        compliance = next;
        emit ComplianceChanged(address(next));
    }

    /// @inheritdoc AccessManaged
    function declaredRoles() external pure virtual override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](1);
        t[0] = FunctionRole(this.setCompliance.selector, Roles.GOVERNANCE);
    }

    /// @inheritdoc IComplianceModule
    function moved(Movement calldata m) external {
        if (msg.sender != address(compliance)) revert OnlyCompliance(msg.sender);
        _moved(m);
    }

    /// @dev Keeps the module's state after movement `m`; nothing for a stateless rule.
    function _moved(Movement calldata m) internal virtual {}

    /// @dev Rule parameter `key` of the movement's asset, as its token set it.
    function _parameter(Movement calldata m, bytes32 key) internal view returns (uint256) {
        return compliance.assetParameter(m.token, m.asset, key);
    }
}
