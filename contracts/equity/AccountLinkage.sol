// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";

/// @title AccountLinkage
/// @notice Account linkage (账户对接) of a regional equity market: each investor account on
/// the business chain is linked to one account at the depository, which holds the
/// securities account off chain. The market lets only linked accounts subscribe, send or
/// receive shares. Written only by depository members; one depository account reference
/// serves one investor account at a time.
contract AccountLinkage is AccessManaged {
    struct Link {
        bytes32 depositoryAccountRef;
        address depository;
        uint64 linkedAt;
    }

    mapping(address => Link) private _links;
    /// @notice The investor account a depository account reference is linked to (zero: none).
    mapping(bytes32 => address) public accountOfRef;

    event AccountLinked(address indexed account, bytes32 indexed depositoryAccountRef, address depository);
    event AccountUnlinked(address indexed account, bytes32 indexed depositoryAccountRef, address depository);

    error EmptyDepositoryRef(address account);
    error AlreadyLinked(address account, bytes32 depositoryAccountRef);
    error DepositoryRefInUse(bytes32 depositoryAccountRef, address account);
    error AccountNotLinked(address account);

    /// @param permissions_ The business chain's PermissionRegistry.
    constructor(PermissionRegistry permissions_) AccessManaged(permissions_) {}

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](2);
        t[0] = FunctionRole(this.linkAccount.selector, Roles.DEPOSITORY);
        t[1] = FunctionRole(this.unlinkAccount.selector, Roles.DEPOSITORY);
    }

    /// @notice Links `investorAccount` to the depository account `depositoryAccountRef`.
    /// @dev Caller must hold DEPOSITORY; neither side may already be linked.
    function linkAccount(address investorAccount, bytes32 depositoryAccountRef) external restricted {
        if (depositoryAccountRef == bytes32(0)) revert EmptyDepositoryRef(investorAccount);
        Link storage link = _links[investorAccount];
        if (link.depositoryAccountRef != bytes32(0)) revert AlreadyLinked(investorAccount, link.depositoryAccountRef);
        address holder = accountOfRef[depositoryAccountRef];
        if (holder != address(0)) revert DepositoryRefInUse(depositoryAccountRef, holder);
        _links[investorAccount] = Link(depositoryAccountRef, msg.sender, uint64(block.timestamp));
        accountOfRef[depositoryAccountRef] = investorAccount;
        emit AccountLinked(investorAccount, depositoryAccountRef, msg.sender);
    }

    /// @notice Ends the link of `investorAccount`; its depository reference becomes free.
    /// @dev Caller must hold DEPOSITORY (any depository member, not only the one that linked).
    function unlinkAccount(address investorAccount) external restricted {
        bytes32 ref = _links[investorAccount].depositoryAccountRef;
        if (ref == bytes32(0)) revert AccountNotLinked(investorAccount);
        delete _links[investorAccount];
        delete accountOfRef[ref];
        emit AccountUnlinked(investorAccount, ref, msg.sender);
    }

    /// @notice True while `account` is linked to a depository account.
    function isLinked(address account) external view returns (bool) {
        return _links[account].depositoryAccountRef != bytes32(0);
    }

    /// @notice The link of `account` (all zero when it is not linked).
    function linkOf(address account) external view returns (Link memory) {
        return _links[account];
    }
}
