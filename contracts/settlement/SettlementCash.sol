// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {IIdentityRegistry} from "../identity/IIdentityRegistry.sol";
import {Roles} from "../access/Roles.sol";
import {ISettlementCash} from "./ISettlementCash.sol";

/// @title SettlementCash
/// @notice The cash leg of delivery-versus-payment, standing for the digital-yuan wallets
/// the pilots settle in. ERC-20 shaped (whole yuan, no decimals). Wallets are real-name:
/// cash moves only to accounts with an identity or to consortium members.
contract SettlementCash is AccessManaged, ISettlementCash {
    string public constant name = "Settlement digital yuan";
    string public constant symbol = "dCNY";
    uint8 public constant decimals = 0;

    /// @notice The identity registry that says which wallets are real-name; changed only by governance.
    IIdentityRegistry public identities;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event IdentitiesChanged(address indexed identities);

    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    error UnknownWallet(address account);

    constructor(PermissionRegistry permissions_, IIdentityRegistry identities_) AccessManaged(permissions_) {
        identities = identities_;
        emit IdentitiesChanged(address(identities_));
    }

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](5);
        t[0] = FunctionRole(this.mint.selector, Roles.CASH_ISSUER);
        // Signed by a wallet's owner, often an investor's account its agent holds: the submitting node
        // needs INVESTOR_AGENT (at the gateway); the wallets are checked here.
        t[1] = FunctionRole(this.transfer.selector, Roles.INVESTOR_AGENT);
        t[2] = FunctionRole(this.approve.selector, Roles.INVESTOR_AGENT);
        t[3] = FunctionRole(this.transferFrom.selector, Roles.INVESTOR_AGENT);
        t[4] = FunctionRole(this.setIdentities.selector, Roles.GOVERNANCE);
    }

    /// @notice Checks wallets against another identity registry; governance-only (see Roles.GOVERNANCE).
    function setIdentities(IIdentityRegistry next) external restricted {
        identities = next;
        emit IdentitiesChanged(address(next));
    }

    /// @notice Issues `amount` to wallet `to`; only a cash issuer (the operating bank) may.
    function mint(address to, uint256 amount) external restricted {
        _requireWallet(to);
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Moves `amount` from the caller to `to`.
    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    /// @notice Lets `spender` (typically a settlement contract) move up to `amount` of the caller's cash.
    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// @notice Moves `amount` from `from` to `to` against the caller's allowance.
    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) revert InsufficientAllowance(from, msg.sender, allowed, amount);
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        _requireWallet(to);
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    function _requireWallet(address account) private view {
        // Role 0 asks only "is an active member".
        if (identities.identityOf(account) == bytes32(0) && !permissions.hasRole(account, 0)) {
            revert UnknownWallet(account);
        }
    }
}
