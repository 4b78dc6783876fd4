// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {IIdentityRegistry} from "./IIdentityRegistry.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";

/// @title IdentityRegistry
/// @notice Maps accounts to investor identities. An identity holds only a salted hash of
/// its personal data (the data stays in the KYC agent's private store), its kind, and
/// how long its qualification lasts. An unregistered vehicle also declares the
/// identities behind it, so that funds can look through it. Written only by KYC agents.
///
/// Look-through is bounded, so that no declaration can make a fund's cap check (run at
/// transfer request and again at settlement) exceed a transaction's gas:
///  - a declaration lists at most `maxDeclarationWidth` investors;
///  - at declaration, the vehicle's look-through tree (the vehicle, its investors and,
///    through declared vehicles, theirs) may hold at most `maxLookThroughSize` identities
///    and `maxLookThroughDepth` levels of vehicles. This uses each inner vehicle's extent
///    as recorded when it was declared (`extentOf`), so it costs one read per investor;
///  - an inner vehicle declared again later can make an outer one larger or deeper than
///    recorded (or form a cycle), so the walk itself (`lookThrough`) stops and reports
///    TooLarge after `maxLookThroughSize` identities and TooDeep past the caller's depth.
/// The limits are set by an ADMIN member, the size no higher than LOOK_THROUGH_SIZE_CEILING:
/// the most a cap check was measured to walk well within a call's gas
/// (tests/test_fund_shares.py, worst-case look-through).
contract IdentityRegistry is AccessManaged, IIdentityRegistry {
    // Kind, Failure (why a look-through stopped; None: it went through) and LookThrough come from
    // IIdentityRegistry, the interface markets and compliance read this registry through.

    struct Identity {
        bytes32 dataHash;
        Kind kind;
        uint64 qualifiedUntil;
    }

    /// @notice A vehicle's look-through tree as recorded at its declaration: identities in it
    /// (the vehicle included, repeats counted) and levels of vehicles (1: only direct investors).
    struct Extent {
        uint16 size;
        uint8 depth;
    }

    // A LookThrough says what a look-through found. On failure, `identity` is where it stopped (for
    // TooLarge, the identity looked through), `vehicle` the vehicle that declared it (0 for the identity
    // looked through itself) and `limit` the depth or size limit that was reached.

    /// @dev The fixed parameters and the running count of one look-through.
    struct Walk {
        uint8 maxDepth;
        bool qualify;
        uint16 maxSize;
        uint256 visited;
    }

    uint16 public constant FULL_SHARE_BPS = 10_000;
    uint16 public constant DEFAULT_MAX_DECLARATION_WIDTH = 50;
    uint8 public constant DEFAULT_MAX_LOOK_THROUGH_DEPTH = 4;
    uint16 public constant DEFAULT_MAX_LOOK_THROUGH_SIZE = 200;
    /// @notice The highest size limit an admin may set (see the contract's notice).
    uint16 public constant LOOK_THROUGH_SIZE_CEILING = 200;
    /// @notice The deepest any walk goes, whatever depth its caller asks for: bounds the walk's recursion.
    uint8 public constant LOOK_THROUGH_DEPTH_CEILING = 16;


    mapping(bytes32 => Identity) private _identities;
    mapping(address => bytes32) public identityOf;
    mapping(bytes32 => bytes32[]) private _investors;
    mapping(bytes32 => uint16[]) private _sharesBps;
    mapping(bytes32 => Extent) private _extents;

    /// @notice Most investors one declaration may list.
    uint16 public maxDeclarationWidth = DEFAULT_MAX_DECLARATION_WIDTH;
    /// @notice Most levels of vehicles a declared vehicle's tree may have.
    uint8 public maxLookThroughDepth = DEFAULT_MAX_LOOK_THROUGH_DEPTH;
    /// @notice Most identities a declared vehicle's tree may hold, and a walk visits.
    uint16 public maxLookThroughSize = DEFAULT_MAX_LOOK_THROUGH_SIZE;

    event IdentityRegistered(bytes32 indexed id, bytes32 dataHash, Kind kind, uint64 qualifiedUntil, address agent);
    event AccountLinked(address indexed account, bytes32 indexed id, address agent);
    event QualificationSet(bytes32 indexed id, uint64 qualifiedUntil, address agent);
    event InvestorsDeclared(bytes32 indexed vehicle, bytes32[] investors, uint16[] sharesBps, address agent);
    event LookThroughLimitsSet(uint16 maxDeclarationWidth, uint8 maxLookThroughDepth, uint16 maxLookThroughSize,
        address admin);

    error IdentityExists(bytes32 id);
    error UnknownIdentity(bytes32 id);
    error InvalidKind(Kind kind);
    error AccountAlreadyLinked(address account, bytes32 id);
    error NotAVehicle(bytes32 id);
    error SharesMustSumToWhole(uint256 sumBps);
    error LengthMismatch();
    error DeclarationTooWide(bytes32 vehicle, uint256 width, uint16 maxWidth);
    /// @notice `investor` is listed more than once in one declaration of `vehicle`. One investor, one
    /// entry with its whole share: a repeat would count it twice in every look-through (units, size).
    error DuplicateInvestor(bytes32 vehicle, bytes32 investor);
    error LookThroughTooDeep(bytes32 vehicle, uint8 maxDepth);
    error LookThroughTooLarge(bytes32 vehicle, uint16 maxSize);
    error InvalidLookThroughLimits(uint16 maxDeclarationWidth, uint8 maxLookThroughDepth, uint16 maxLookThroughSize);

    /// @notice Creates the registry, written by the KYC agents of `permissions_`, with the default look-through limits.
    constructor(PermissionRegistry permissions_) AccessManaged(permissions_) {}

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](5);
        t[0] = FunctionRole(this.registerIdentity.selector, Roles.KYC_AGENT);
        t[1] = FunctionRole(this.linkAccount.selector, Roles.KYC_AGENT);
        t[2] = FunctionRole(this.setQualification.selector, Roles.KYC_AGENT);
        t[3] = FunctionRole(this.declareInvestors.selector, Roles.KYC_AGENT);
        t[4] = FunctionRole(this.setLookThroughLimits.selector, Roles.ADMIN);
    }

    /// @notice Registers identity `id` with the salted hash of its personal data.
    /// @param qualifiedUntil End of the qualified-investor assessment (0: not qualified).
    function registerIdentity(bytes32 id, bytes32 dataHash, Kind kind, uint64 qualifiedUntil) external restricted {
        if (kind == Kind.None) revert InvalidKind(kind);
        if (_identities[id].kind != Kind.None) revert IdentityExists(id);
        _identities[id] = Identity(dataHash, kind, qualifiedUntil);
        emit IdentityRegistered(id, dataHash, kind, qualifiedUntil, msg.sender);
    }

    /// @notice Links `account` to identity `id`; an identity may have many accounts.
    function linkAccount(address account, bytes32 id) external restricted {
        _known(id);
        bytes32 current = identityOf[account];
        if (current != bytes32(0)) revert AccountAlreadyLinked(account, current);
        identityOf[account] = id;
        emit AccountLinked(account, id, msg.sender);
    }

    /// @notice Renews or withdraws (0) the qualification of identity `id`.
    function setQualification(bytes32 id, uint64 qualifiedUntil) external restricted {
        _known(id).qualifiedUntil = qualifiedUntil;
        emit QualificationSet(id, qualifiedUntil, msg.sender);
    }

    /// @notice Declares the investors behind vehicle `vehicle`, replacing any earlier declaration.
    /// Refused when wider than `maxDeclarationWidth`, when it lists an investor twice (DuplicateInvestor:
    /// one entry per investor, with its whole share), or when the vehicle's look-through tree would exceed
    /// `maxLookThroughDepth` levels or `maxLookThroughSize` identities. The repeat check is linear in the
    /// width (`_firstRepeat`): under 2% of a declaration at the default maximum width.
    /// @param sharesBps Each investor's share in basis points; together exactly 10,000.
    function declareInvestors(bytes32 vehicle, bytes32[] calldata investors, uint16[] calldata sharesBps)
        external
        restricted
    {
        if (_known(vehicle).kind != Kind.UnregisteredVehicle) revert NotAVehicle(vehicle);
        if (investors.length != sharesBps.length) revert LengthMismatch();
        if (investors.length > maxDeclarationWidth) {
            revert DeclarationTooWide(vehicle, investors.length, maxDeclarationWidth);
        }
        {
            (bool repeated, bytes32 investor) = _firstRepeat(investors);
            if (repeated) revert DuplicateInvestor(vehicle, investor);
        }
        uint256 sum;
        uint256 size = 1;
        uint256 depth = 1;
        for (uint256 i = 0; i < investors.length; i++) {
            if (_known(investors[i]).kind == Kind.UnregisteredVehicle) {
                (uint256 innerSize, uint256 innerDepth) = _extent(investors[i]);
                size += innerSize;
                if (innerDepth + 1 > depth) depth = innerDepth + 1;
            } else {
                size += 1;
            }
            sum += sharesBps[i];
        }
        if (sum != FULL_SHARE_BPS) revert SharesMustSumToWhole(sum);
        if (depth > maxLookThroughDepth) revert LookThroughTooDeep(vehicle, maxLookThroughDepth);
        if (size > maxLookThroughSize) revert LookThroughTooLarge(vehicle, maxLookThroughSize);
        _investors[vehicle] = investors;
        _sharesBps[vehicle] = sharesBps;
        // Both fit: size <= maxLookThroughSize (uint16), depth <= maxLookThroughDepth (uint8).
        _extents[vehicle] = Extent(uint16(size), uint8(depth));
        emit InvestorsDeclared(vehicle, investors, sharesBps, msg.sender);
    }

    /// @notice Sets the look-through limits (ADMIN members only). Declarations already made are kept;
    /// walks apply the new size limit at once.
    /// @param maxWidth Most investors per declaration: at least 1 and below `maxSize`.
    /// @param maxDepth Most levels of vehicles in a declared tree: 1 to LOOK_THROUGH_DEPTH_CEILING.
    /// @param maxSize Most identities in a declared tree and in a walk: up to LOOK_THROUGH_SIZE_CEILING.
    function setLookThroughLimits(uint16 maxWidth, uint8 maxDepth, uint16 maxSize) external restricted {
        if (maxWidth == 0 || maxWidth >= maxSize || maxSize > LOOK_THROUGH_SIZE_CEILING || maxDepth == 0
            || maxDepth > LOOK_THROUGH_DEPTH_CEILING) {
            revert InvalidLookThroughLimits(maxWidth, maxDepth, maxSize);
        }
        maxDeclarationWidth = maxWidth;
        maxLookThroughDepth = maxDepth;
        maxLookThroughSize = maxSize;
        emit LookThroughLimitsSet(maxWidth, maxDepth, maxSize, msg.sender);
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

    /// @notice The extent of vehicle `vehicle`'s look-through tree as recorded at its last declaration
    /// (an undeclared vehicle: size 1, depth 1; any other identity: size 1, depth 0).
    function extentOf(bytes32 id) external view returns (uint256 size, uint256 depth) {
        if (_identities[id].kind != Kind.UnregisteredVehicle) return (1, 0);
        return _extent(id);
    }

    /// @notice Looks through identity `id` as a fund's cap check does: an identity that is not an
    /// unregistered vehicle counts one unit; a vehicle counts the units of its declared investors,
    /// looked through depth first. Stops at the first failure: with `qualify`, an identity on the
    /// way that is not qualified now; a vehicle without investors; a vehicle at depth `maxDepth`
    /// (the identity itself is at depth 0; never deeper than LOOK_THROUGH_DEPTH_CEILING); or more
    /// than `maxLookThroughSize` identities visited. Costs about one cold storage read per identity
    /// visited and per vehicle's investor list, all within this one call.
    function lookThrough(bytes32 id, uint8 maxDepth, bool qualify) external view returns (LookThrough memory r) {
        if (maxDepth > LOOK_THROUGH_DEPTH_CEILING) maxDepth = LOOK_THROUGH_DEPTH_CEILING;
        Walk memory w = Walk(maxDepth, qualify, maxLookThroughSize, 0);
        _walk(id, 0, bytes32(0), w, r);
        if (r.failure == Failure.TooLarge) {
            r.identity = id;
            r.vehicle = bytes32(0);
        }
    }

    function _walk(bytes32 id, uint8 depth, bytes32 vehicle, Walk memory w, LookThrough memory r) private view {
        if (++w.visited > w.maxSize) return _fail(r, Failure.TooLarge, id, vehicle, w.maxSize);
        Identity storage record = _identities[id];
        if (w.qualify && record.qualifiedUntil < block.timestamp) {
            return _fail(r, Failure.NotQualified, id, vehicle, 0);
        }
        if (record.kind != Kind.UnregisteredVehicle) {
            r.units += 1;
            return;
        }
        if (depth >= w.maxDepth) return _fail(r, Failure.TooDeep, id, vehicle, w.maxDepth);
        bytes32[] storage investors = _investors[id];
        uint256 n = investors.length;
        if (n == 0) return _fail(r, Failure.NoInvestors, id, vehicle, 0);
        for (uint256 i = 0; i < n; i++) {
            _walk(investors[i], depth + 1, id, w, r);
            if (r.failure != Failure.None) return;
        }
    }

    function _fail(LookThrough memory r, Failure failure, bytes32 id, bytes32 vehicle, uint16 limit) private pure {
        r.failure = failure;
        r.identity = id;
        r.vehicle = vehicle;
        r.limit = limit;
    }

    /// @dev The first investor `investors` lists a second time, if any (`found`). A hash set in memory (open
    /// addressing over at least twice as many slots as entries, keyed by each id's keccak, which is never 0,
    /// the empty slot, in practice): about 500 gas an entry (25,000 at the default width of 50), where
    /// comparing every pair would cost about 80 gas a pair (100,000 at that width).
    function _firstRepeat(bytes32[] calldata investors) private pure returns (bool found, bytes32 repeated) {
        uint256 n = investors.length;
        uint256 slots = 2;
        while (slots < 2 * n) slots <<= 1;
        bytes32[] memory table = new bytes32[](slots);
        uint256 mask = slots - 1;
        for (uint256 i = 0; i < n; i++) {
            bytes32 key = keccak256(abi.encode(investors[i]));
            uint256 k = uint256(key) & mask;
            while (table[k] != 0) {
                if (table[k] == key) return (true, investors[i]);
                k = (k + 1) & mask;
            }
            table[k] = key;
        }
        return (false, bytes32(0));
    }

    /// @dev The recorded extent of vehicle `id`; an undeclared vehicle counts as itself alone, one level.
    function _extent(bytes32 id) private view returns (uint256 size, uint256 depth) {
        Extent storage e = _extents[id];
        if (e.size == 0) return (1, 1);
        return (e.size, e.depth);
    }

    function _known(bytes32 id) private view returns (Identity storage record) {
        record = _identities[id];
        if (record.kind == Kind.None) revert UnknownIdentity(id);
    }
}
