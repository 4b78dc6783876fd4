// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MovementKind} from "../compliance/IComplianceModule.sol";
import {FundRegister} from "./FundRegister.sol";

/// @title FundEnforcement
/// @notice What the platform and the regulator can do to holdings apart from business: the platform
/// pauses all business (a pilot's wind-down), the regulator freezes holdings (in part or whole) and
/// forces transfers under the hash of a legal order. These work while business is paused.
abstract contract FundEnforcement is FundRegister {
    /// @notice Freezing this amount freezes a holding whole, including shares received later.
    uint256 public constant WHOLE = type(uint256).max;

    /// @notice True once the platform winds the pilot down: business stops, the regulator's
    /// freezes and forced transfers still work, and every holding stays readable.
    bool public paused;
    mapping(uint256 => mapping(address => uint256)) public frozenOf;

    event Paused(address indexed platform, bytes32 noticeHash);
    event Unpaused(address indexed platform, bytes32 noticeHash);
    event Frozen(uint256 indexed fundId, address indexed account, uint256 frozen, bytes32 orderHash);
    event Unfrozen(uint256 indexed fundId, address indexed account, uint256 frozen, bytes32 orderHash);
    event ForcedTransfer(uint256 indexed fundId, address from, address to, uint256 amount, bytes32 orderHash);

    error PlatformPaused();
    error PlatformNotPaused();
    error SharesFrozen(address account, uint256 frozen);

    /// @notice The platform stops all business under a notice (its hash), e.g. to wind the pilot down.
    function pause(bytes32 noticeHash) external restricted {
        if (paused) revert PlatformPaused();
        paused = true;
        emit Paused(msg.sender, noticeHash);
    }

    /// @notice The platform resumes business under a notice (its hash).
    function unpause(bytes32 noticeHash) external restricted {
        if (!paused) revert PlatformNotPaused();
        paused = false;
        emit Unpaused(msg.sender, noticeHash);
    }

    /// @notice Freezes `amount` more of a holding (WHOLE for all of it) under a legal order.
    function freeze(uint256 fundId, address account, uint256 amount, bytes32 orderHash) external restricted {
        _requireFund(fundId);
        uint256 frozen = frozenOf[fundId][account];
        frozen = amount == WHOLE || WHOLE - frozen <= amount ? WHOLE : frozen + amount;
        frozenOf[fundId][account] = frozen;
        emit Frozen(fundId, account, frozen, orderHash);
    }

    /// @notice Releases `amount` of a frozen holding (WHOLE for all of it) under a legal order.
    function unfreeze(uint256 fundId, address account, uint256 amount, bytes32 orderHash) external restricted {
        _requireFund(fundId);
        uint256 frozen = frozenOf[fundId][account];
        // Releasing part of a whole freeze leaves the rest of the current holding frozen.
        if (frozen == WHOLE && amount != WHOLE) frozen = balanceOf[fundId][account];
        frozen = amount >= frozen ? 0 : frozen - amount;
        frozenOf[fundId][account] = frozen;
        emit Unfrozen(fundId, account, frozen, orderHash);
    }

    /// @notice Moves shares under a legal order, past freezes, lock-up, approval and the investor rules
    /// (compliance counts the transferee's units but refuses nothing). The transferee must be identified.
    function forcedTransfer(uint256 fundId, address from, address to, uint256 amount, bytes32 orderHash)
        external
        restricted
    {
        _requireFund(fundId);
        uint256 balance = balanceOf[fundId][from];
        _make(_movement(MovementKind.Forced, fundId, from, to, amount));
        uint256 frozen = frozenOf[fundId][from];
        if (frozen != WHOLE && frozen > balance - amount) frozenOf[fundId][from] = balance - amount;
        emit ForcedTransfer(fundId, from, to, amount, orderHash);
    }

    function _whenNotPaused() internal view {
        if (paused) revert PlatformPaused();
    }

    /// @dev Reverts SharesFrozen unless `amount` of `account`'s shares are free to sell.
    function _requireUnfrozen(uint256 fundId, address account, uint256 amount) internal view {
        uint256 frozen = frozenOf[fundId][account];
        if (frozen == WHOLE || balanceOf[fundId][account] - amount < frozen) revert SharesFrozen(account, frozen);
    }
}
