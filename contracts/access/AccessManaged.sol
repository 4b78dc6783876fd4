// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessManaged} from "./IAccessManaged.sol";
import {PermissionRegistry} from "./PermissionRegistry.sol";

/// @title AccessManaged
/// @notice The base of every consortium contract (OpenZeppelin's AccessManaged, in shape): who may call
/// a function is not written in the contract but read from the registry's function-to-role map, which
/// only governance sets. A function marked `restricted` asks the registry whether its caller may call
/// it (PermissionRegistry.requireCall); the contract declares, in `declaredRoles`, the table it asks
/// governance to adopt, one proposal for the whole contract: each contract implements
/// `declaredRoles() external pure override returns (FunctionRole[] memory)`.
///
/// A function a client account signs (an investor's, held by a member node) is not `restricted`: its
/// signer is no member. It is still mapped: the gateway checks the mapped role against the submitting
/// node, and the contract checks the signer's identity itself. The same holds for functions open to any
/// member whose business check names the caller (a receipt's holder): mapped to role 0, not restricted.
abstract contract AccessManaged is IAccessManaged {
    /// @notice The registry callers are checked against; changed only by governance.
    PermissionRegistry public permissions;

    event PermissionsChanged(address indexed previous, address indexed next);

    error OnlyPermissions(address caller);

    constructor(PermissionRegistry permissions_) {
        permissions = permissions_;
        emit PermissionsChanged(address(0), address(permissions_));
    }

    /// @notice Reverts (NotActiveMember, MissingRole or FunctionClosed) unless the registry's map lets
    /// the caller call this function of this contract.
    modifier restricted() {
        permissions.requireCall(msg.sender, address(this), msg.sig);
        _;
    }

    /// @inheritdoc IAccessManaged
    function setPermissions(address next) external {
        if (msg.sender != address(permissions)) revert OnlyPermissions(msg.sender);
        emit PermissionsChanged(address(permissions), next);
        permissions = PermissionRegistry(next);
    }

    /// @notice The role table this contract asks governance to adopt, one entry per function a
    /// transaction may call; nothing in it is in force until governance adopts it.
    function declaredRoles() external pure virtual override returns (FunctionRole[] memory);
}
