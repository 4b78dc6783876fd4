// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";

/// @title IdentityRegistry
/// @notice Maps accounts to investor identities. An identity holds only a salted hash of
/// its personal data (the data stays in the KYC agent's private store), its kind, and
/// how long its qualification lasts. An unregistered vehicle also declares the
/// identities behind it, so that funds can look through it. Written only by KYC agents.
contract IdentityRegistry {
    enum Kind { None, NaturalPerson, Institution, RegisteredProduct, UnregisteredVehicle }

    struct Identity {
        bytes32 dataHash;
        Kind kind;
        uint64 qualifiedUntil;
    }

    uint16 public constant FULL_SHARE_BPS = 10_000;

    PermissionRegistry public immutable permissions;

    mapping(bytes32 => Identity) private _identities;
    mapping(address => bytes32) public identityOf;
    mapping(bytes32 => bytes32[]) private _investors;
    mapping(bytes32 => uint16[]) private _sharesBps;

    event IdentityRegistered(bytes32 indexed id, bytes32 dataHash, Kind kind, uint64 qualifiedUntil, address agent);
    event AccountLinked(address indexed account, bytes32 indexed id, address agent);
    event QualificationSet(bytes32 indexed id, uint64 qualifiedUntil, address agent);
    event InvestorsDeclared(bytes32 indexed vehicle, bytes32[] investors, uint16[] sharesBps, address agent);

    error IdentityExists(bytes32 id);
    error UnknownIdentity(bytes32 id);
    error InvalidKind(Kind kind);
    error AccountAlreadyLinked(address account, bytes32 id);
    error NotAVehicle(bytes32 id);
    error SharesMustSumToWhole(uint256 sumBps);
    error LengthMismatch();

    constructor(PermissionRegistry permissions_) {
        permissions = permissions_;
    }

    /// @notice Registers identity `id` with the salted hash of its personal data.
    /// @param qualifiedUntil End of the qualified-investor assessment (0: not qualified).
    function registerIdentity(bytes32 id, bytes32 dataHash, Kind kind, uint64 qualifiedUntil) external {
        permissions.requireRole(msg.sender, Roles.KYC_AGENT);
        if (kind == Kind.None) revert InvalidKind(kind);
        if (_identities[id].kind != Kind.None) revert IdentityExists(id);
        _identities[id] = Identity(dataHash, kind, qualifiedUntil);
        emit IdentityRegistered(id, dataHash, kind, qualifiedUntil, msg.sender);
    }

    /// @notice Links `account` to identity `id`; an identity may have many accounts.
    function linkAccount(address account, bytes32 id) external {
        permissions.requireRole(msg.sender, Roles.KYC_AGENT);
        _known(id);
        bytes32 current = identityOf[account];
        if (current != bytes32(0)) revert AccountAlreadyLinked(account, current);
        identityOf[account] = id;
        emit AccountLinked(account, id, msg.sender);
    }

    /// @notice Renews or withdraws (0) the qualification of identity `id`.
    function setQualification(bytes32 id, uint64 qualifiedUntil) external {
        permissions.requireRole(msg.sender, Roles.KYC_AGENT);
        _known(id).qualifiedUntil = qualifiedUntil;
        emit QualificationSet(id, qualifiedUntil, msg.sender);
    }

    /// @notice Declares the investors behind vehicle `vehicle`, replacing any earlier declaration.
    /// @param sharesBps Each investor's share in basis points; together exactly 10,000.
    function declareInvestors(bytes32 vehicle, bytes32[] calldata investors, uint16[] calldata sharesBps) external {
        permissions.requireRole(msg.sender, Roles.KYC_AGENT);
        if (_known(vehicle).kind != Kind.UnregisteredVehicle) revert NotAVehicle(vehicle);
        if (investors.length != sharesBps.length) revert LengthMismatch();
        uint256 sum;
        for (uint256 i = 0; i < investors.length; i++) {
            _known(investors[i]);
            sum += sharesBps[i];
        }
        if (sum != FULL_SHARE_BPS) revert SharesMustSumToWhole(sum);
        _investors[vehicle] = investors;
        _sharesBps[vehicle] = sharesBps;
        emit InvestorsDeclared(vehicle, investors, sharesBps, msg.sender);
    }

    /// @notice The record of identity `id`.
    function identity(bytes32 id) external view returns (Identity memory) {
        return _identities[id];
    }

    /// @notice The kind of identity `id` (None when unknown).
    function kindOf(bytes32 id) external view returns (Kind) {
        return _identities[id].kind;
    }

    /// @notice True while identity `id` holds an unexpired qualification.
    function isQualified(bytes32 id) external view returns (bool) {
        return _identities[id].qualifiedUntil >= block.timestamp;
    }

    /// @notice The kind of identity `id` and whether it is qualified now, in one call.
    function standing(bytes32 id) external view returns (Kind kind, bool qualified) {
        Identity storage record = _identities[id];
        return (record.kind, record.qualifiedUntil >= block.timestamp);
    }

    /// @notice The declared investors of vehicle `vehicle` and their shares in basis points.
    function investorsOf(bytes32 vehicle) external view returns (bytes32[] memory, uint16[] memory) {
        return (_investors[vehicle], _sharesBps[vehicle]);
    }

    function _known(bytes32 id) private view returns (Identity storage record) {
        record = _identities[id];
        if (record.kind == Kind.None) revert UnknownIdentity(id);
    }
}
