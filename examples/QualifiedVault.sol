// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

// The project's contracts are imported under pilotledger/ (their paths under contracts/).
import {PermissionRegistry} from "pilotledger/access/PermissionRegistry.sol";
import {Roles} from "pilotledger/access/Roles.sol";
import {IdentityRegistry} from "pilotledger/identity/IdentityRegistry.sol";

/// @title QualifiedVault
/// @notice A prototype on the consortium's registries: accounts linked to a qualified investor
/// identity record commitments; a platform member closes the vault.
contract QualifiedVault {
    PermissionRegistry public immutable permissions;
    IdentityRegistry public immutable identities;
    bool public closed;
    mapping(bytes32 => uint256) public committedBy;

    event Committed(bytes32 indexed identity, address account, uint256 amount);
    event Closed(address by);

    error NotQualified(address account);
    error VaultClosed();

    constructor(PermissionRegistry permissions_, IdentityRegistry identities_) {
        permissions = permissions_;
        identities = identities_;
    }

    /// @notice Records `amount` against the caller's identity, which must be qualified now.
    function commit(uint256 amount) external {
        if (closed) revert VaultClosed();
        bytes32 identity = identities.identityOf(msg.sender);
        (IdentityRegistry.Kind kind, bool qualified) = identities.standing(identity);
        if (kind == IdentityRegistry.Kind.None || !qualified) revert NotQualified(msg.sender);
        committedBy[identity] += amount;
        emit Committed(identity, msg.sender, amount);
    }

    /// @notice Stops further commitments; only a member holding the PLATFORM role may.
    function close() external {
        permissions.requireRole(msg.sender, Roles.PLATFORM);
        closed = true;
        emit Closed(msg.sender);
    }
}
