// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IAccessManaged
/// @notice What the PermissionRegistry needs of a contract it manages: the role table the contract
/// declares about itself (adopted by one governance proposal) and a way to move it to another registry.
interface IAccessManaged {
    /// @notice One declared entry: the role mask a caller of function `selector` must hold.
    struct FunctionRole {
        bytes4 selector;
        uint256 role;
    }

    /// @notice The contract's own role table, as it asks governance to adopt it (see
    /// PermissionRegistry.Action.AdoptDeclaredRoles); nothing is in force until governance adopts it.
    function declaredRoles() external view returns (FunctionRole[] memory);

    /// @notice Moves the contract to registry `next`; only the current registry may call it, when
    /// governance executes PermissionRegistry.Action.SetContractRegistry.
    function setPermissions(address next) external;
}
