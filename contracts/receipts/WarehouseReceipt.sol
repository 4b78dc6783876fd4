// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessManaged} from "../access/AccessManaged.sol";
import {PermissionRegistry} from "../access/PermissionRegistry.sol";
import {Roles} from "../access/Roles.sol";

/// @title WarehouseReceipt
/// @notice Futures standard warehouse receipts (标准仓单) and the stock behind them.
/// One receipt is one id with its own record.
///
/// Stock. A designated delivery warehouse declares its stock per commodity, in one
/// measurement unit fixed by its first declaration. The contract keeps, per
/// (warehouse, commodity), the declared stock and the sum of the quantities of its
/// live receipts, and refuses any issuance that would take the live quantity above
/// the declared stock. The warehouse may not declare less than its live quantity.
/// The futures exchange records inspections and may correct a declaration to any
/// value, even below the live quantity: the correction stands, a StockShortfall
/// event records the gap for the regulator, receipts already out stay valid (their
/// holders are not at fault), and further issuance is refused until the live
/// quantity is back within the declared stock.
///
/// Lifecycle. issue (warehouse) -> register (exchange) -> transfer / deliver /
/// pledge -> release or enforce ... -> cancel (注销) on withdrawal of goods.
/// Only registered receipts circulate (transfer, pledge, delivery). A delivery
/// against a futures position moves the receipt to the buyer; it stays live.
/// Split and merge, by the issuing warehouse, conserve quantity exactly; their
/// sources die (Split, Merged) and new ids carry the same holder and registration.
///
/// Cancellation. The holder requests it (requestCancellation); the issuing warehouse
/// then cancels when the goods are withdrawn. The request lapses when the receipt
/// changes hands. Cancelling frees the quantity from the live quantity and, as the
/// goods leave the warehouse, from the declared stock too.
///
/// Expiry. From its `expiry` timestamp on, a receipt is dead for every operation
/// (Expired). It still counts in the live quantity until any active member marks it
/// expired (markExpired), which frees its quantity and ends any pledge on it; the
/// goods stay declared and can be re-inspected and receipted anew. A pledge's term
/// must end before the receipt's expiry, so a lender always has time to enforce.
///
/// Dead receipts (Cancelled, Expired, Split, Merged) never come back (ReceiptNotLive).
/// A receipt is never pledged twice at once, and is not transferred, delivered,
/// split, merged or cancelled while pledged.
contract WarehouseReceipt is AccessManaged {
    enum State { None, Issued, Registered, Cancelled, Expired, Split, Merged }
    enum MergeField { Holder, Commodity, Grade, Location, Registration }

    struct Receipt {
        bytes32 commodity;
        bytes32 grade;
        uint256 quantity;
        bytes32 unit;
        bytes32 location;
        bytes32 inspectionCertHash;
        uint64 expiry;
        uint64 issuedAt;
        address warehouse;
        address holder;
        State state;
        bool cancelRequested;
    }

    struct Stock {
        bytes32 unit;
        uint256 declared;
        uint256 live;
        uint64 declaredAt;
        uint64 inspectedAt;
        uint256 observed;
        bytes32 inspectionHash;
    }

    struct Pledge {
        address lender;
        uint64 end;
        uint256 amount;
    }

    /// @notice The consortium's registry, checked for every role.

    /// @notice The number of receipts ever created (issued, split or merged): the last id.
    uint256 public receiptCount;
    mapping(uint256 => Receipt) private _receipts;
    mapping(uint256 => Pledge) private _pledges;
    mapping(address => mapping(bytes32 => Stock)) private _stocks;

    event StockDeclared(
        address indexed warehouse, bytes32 indexed commodity, uint256 declared, bytes32 unit, uint256 live
    );
    event StockInspected(
        address indexed warehouse,
        bytes32 indexed commodity,
        uint256 observed,
        uint256 declared,
        uint256 live,
        bytes32 inspectionHash
    );
    event DeclarationCorrected(
        address indexed warehouse,
        bytes32 indexed commodity,
        uint256 previous,
        uint256 declared,
        uint256 live,
        bytes32 inspectionHash
    );
    event StockShortfall(address indexed warehouse, bytes32 indexed commodity, uint256 live, uint256 declared);
    event ReceiptIssued(
        uint256 indexed id,
        address indexed warehouse,
        address indexed owner,
        bytes32 commodity,
        bytes32 grade,
        uint256 quantity,
        bytes32 unit,
        bytes32 location,
        bytes32 inspectionCertHash,
        uint64 expiry
    );
    event ReceiptRegistered(uint256 indexed id, address exchange);
    event ReceiptTransferred(uint256 indexed id, address indexed from, address indexed to);
    event ReceiptSplit(uint256 indexed id, address indexed holder, uint256[] parts, uint256[] quantities);
    /// @dev Carries the merged receipt's certificate hash, so no reader re-derives it from the sources.
    event ReceiptsMerged(
        uint256 indexed id, address indexed holder, uint256[] sources, uint256 quantity, bytes32 inspectionCertHash
    );
    event Pledged(uint256 indexed id, address indexed holder, address indexed lender, uint256 amount, uint256 end);
    event PledgeReleased(uint256 indexed id, address indexed lender, address holder);
    event PledgeEnforced(uint256 indexed id, address indexed lender, address previousHolder);
    event PledgeLapsed(uint256 indexed id, address indexed lender);
    event Delivered(uint256 indexed id, address indexed seller, address indexed buyer, bytes32 positionRef);
    event CancellationRequested(uint256 indexed id, address indexed holder);
    event ReceiptCancelled(uint256 indexed id, address indexed warehouse, address indexed holder, uint256 quantity);
    event MarkedExpired(uint256 indexed id, address indexed warehouse, address indexed holder, uint256 quantity);

    error UnknownReceipt(uint256 id);
    error UnknownDeclaration(address warehouse, bytes32 commodity);
    error UnitMismatch(address warehouse, bytes32 commodity, bytes32 declaredUnit, bytes32 unit);
    error DeclarationBelowLive(address warehouse, bytes32 commodity, uint256 live, uint256 declared);
    error ExceedsDeclaredStock(address warehouse, bytes32 commodity, uint256 live, uint256 quantity, uint256 declared);
    error ZeroQuantity();
    error ZeroAddress();
    error ZeroAmount();
    error ZeroTerm();
    error MissingInspectionCert();
    error InvalidExpiry(uint64 expiry, uint256 time);
    error NotIssuingWarehouse(uint256 id, address caller);
    error NotHolder(uint256 id, address caller, address holder);
    error NotRegistered(uint256 id);
    error AlreadyRegistered(uint256 id);
    error ReceiptNotLive(uint256 id, State state);
    error Expired(uint256 id, uint64 expiry);
    error NotExpired(uint256 id, uint64 expiry);
    error ReceiptPledged(uint256 id, address lender);
    error AlreadyPledged(uint256 id, address lender);
    error NotPledged(uint256 id);
    error NotLender(address account);
    error NotPledgee(uint256 id, address caller);
    error TermBeyondExpiry(uint256 id, uint256 end, uint64 expiry);
    error TermNotEnded(uint256 id, uint64 end);
    error TooFewParts(uint256 count);
    error QuantityMismatch(uint256 id, uint256 quantity, uint256 sum);
    error DuplicateReceipt(uint256 id);
    error MergeMismatch(uint256 id, uint256 otherId, MergeField field);
    error CancellationNotRequested(uint256 id);

    /// @notice Creates the receipt platform, checking roles against the consortium's `permissions_`.
    constructor(PermissionRegistry permissions_) AccessManaged(permissions_) {}

    /// @notice The role table this contract asks governance to adopt (see AccessManaged).
    function declaredRoles() external pure override returns (FunctionRole[] memory t) {
        t = new FunctionRole[](15);
        t[0] = FunctionRole(this.declareStock.selector, Roles.WAREHOUSE);
        t[1] = FunctionRole(this.inspectStock.selector, Roles.FUTURES_EXCHANGE);
        t[2] = FunctionRole(this.correctDeclaration.selector, Roles.FUTURES_EXCHANGE);
        t[3] = FunctionRole(this.issue.selector, Roles.WAREHOUSE);
        t[4] = FunctionRole(this.register.selector, Roles.FUTURES_EXCHANGE);
        t[5] = FunctionRole(this.deliver.selector, Roles.FUTURES_EXCHANGE);
        // Role 0: any member submits. markExpired is open to all; transfer, requestCancellation and pledge
        // are signed by the receipt's holder (a member or a client its node holds), checked here.
        t[6] = FunctionRole(this.markExpired.selector, 0);
        t[7] = FunctionRole(this.transfer.selector, 0);
        t[8] = FunctionRole(this.split.selector, Roles.WAREHOUSE);
        t[9] = FunctionRole(this.merge.selector, Roles.WAREHOUSE);
        t[10] = FunctionRole(this.requestCancellation.selector, 0);
        t[11] = FunctionRole(this.cancel.selector, Roles.WAREHOUSE);
        t[12] = FunctionRole(this.pledge.selector, 0);
        t[13] = FunctionRole(this.release.selector, Roles.LENDER);
        t[14] = FunctionRole(this.enforce.selector, Roles.LENDER);
    }

    // ------------------------------------------------------------------ stock

    /// @notice The calling warehouse declares its stock of `commodity`: `quantity` in `unit`.
    /// The first declaration fixes the unit; a declaration below the live quantity is refused.
    function declareStock(bytes32 commodity, uint256 quantity, bytes32 unit) external restricted {
        Stock storage s = _stocks[msg.sender][commodity];
        if (s.declaredAt == 0) {
            s.unit = unit;
        } else if (s.unit != unit) {
            revert UnitMismatch(msg.sender, commodity, s.unit, unit);
        }
        if (quantity < s.live) revert DeclarationBelowLive(msg.sender, commodity, s.live, quantity);
        s.declared = quantity;
        s.declaredAt = uint64(block.timestamp);
        emit StockDeclared(msg.sender, commodity, quantity, unit, s.live);
    }

    /// @notice The futures exchange records an inspection of a declared stock: the quantity
    /// it observed and the hash of its inspection report. The declaration is not changed.
    function inspectStock(address warehouse, bytes32 commodity, uint256 observed, bytes32 inspectionHash)
        external
        restricted
    {
        Stock storage s = _declared(warehouse, commodity);
        s.observed = observed;
        s.inspectionHash = inspectionHash;
        s.inspectedAt = uint64(block.timestamp);
        emit StockInspected(warehouse, commodity, observed, s.declared, s.live, inspectionHash);
    }

    /// @notice The futures exchange corrects a declared stock, citing its inspection report.
    /// A correction below the live quantity stands and emits StockShortfall; issuance is then
    /// refused until the live quantity is within the declared stock again.
    function correctDeclaration(address warehouse, bytes32 commodity, uint256 quantity, bytes32 inspectionHash)
        external
        restricted
    {
        Stock storage s = _declared(warehouse, commodity);
        uint256 previous = s.declared;
        s.declared = quantity;
        emit DeclarationCorrected(warehouse, commodity, previous, quantity, s.live, inspectionHash);
        if (quantity < s.live) emit StockShortfall(warehouse, commodity, s.live, quantity);
    }

    /// @notice The stock record of (`warehouse`, `commodity`); all zero when never declared.
    function stockOf(address warehouse, bytes32 commodity) external view returns (Stock memory) {
        return _stocks[warehouse][commodity];
    }

    /// @notice The stock `warehouse` declares of `commodity`, as last declared or corrected.
    function declaredStock(address warehouse, bytes32 commodity) external view returns (uint256) {
        return _stocks[warehouse][commodity].declared;
    }

    /// @notice The summed quantity of `warehouse`'s live receipts for `commodity`.
    function liveQuantity(address warehouse, bytes32 commodity) external view returns (uint256) {
        return _stocks[warehouse][commodity].live;
    }

    // --------------------------------------------------------------- receipts

    /// @notice The calling warehouse issues a receipt to `owner` for goods it holds and
    /// has inspected. Refused when the live quantity would exceed the declared stock.
    /// @return id The new receipt's id; it circulates once the exchange registers it.
    function issue(
        bytes32 commodity,
        bytes32 grade,
        uint256 quantity,
        bytes32 unit,
        bytes32 location,
        bytes32 inspectionCertHash,
        uint64 expiry,
        address owner
    ) external restricted returns (uint256 id) {
        if (quantity == 0) revert ZeroQuantity();
        if (owner == address(0)) revert ZeroAddress();
        if (inspectionCertHash == bytes32(0)) revert MissingInspectionCert();
        if (expiry <= block.timestamp) revert InvalidExpiry(expiry, block.timestamp);
        Stock storage s = _declared(msg.sender, commodity);
        if (s.unit != unit) revert UnitMismatch(msg.sender, commodity, s.unit, unit);
        if (s.live > s.declared || quantity > s.declared - s.live) {
            revert ExceedsDeclaredStock(msg.sender, commodity, s.live, quantity, s.declared);
        }
        s.live += quantity;
        id = ++receiptCount;
        Receipt storage r = _receipts[id];
        r.commodity = commodity;
        r.grade = grade;
        r.quantity = quantity;
        r.unit = unit;
        r.location = location;
        r.inspectionCertHash = inspectionCertHash;
        r.expiry = expiry;
        r.issuedAt = uint64(block.timestamp);
        r.warehouse = msg.sender;
        r.holder = owner;
        r.state = State.Issued;
        emit ReceiptIssued(
            id, msg.sender, owner, commodity, grade, quantity, unit, location, inspectionCertHash, expiry
        );
    }

    /// @notice The futures exchange registers an issued receipt, so that it may circulate.
    function register(uint256 id) external restricted {
        Receipt storage r = _live(id);
        if (r.state == State.Registered) revert AlreadyRegistered(id);
        r.state = State.Registered;
        emit ReceiptRegistered(id, msg.sender);
    }

    /// @notice The holder transfers a registered, unpledged receipt to `to`.
    function transfer(uint256 id, address to) external {
        Receipt storage r = _live(id);
        _onlyHolder(id, r);
        _circulating(id, r);
        if (to == address(0)) revert ZeroAddress();
        _move(r, to);
        emit ReceiptTransferred(id, msg.sender, to);
    }

    /// @notice The futures exchange delivers a registered, unpledged receipt against a futures
    /// position: the receipt moves from its holder (the seller) to `buyer`.
    /// @param positionRef The exchange's reference of the delivered position.
    function deliver(uint256 id, address buyer, bytes32 positionRef) external restricted {
        Receipt storage r = _live(id);
        _circulating(id, r);
        if (buyer == address(0)) revert ZeroAddress();
        address seller = r.holder;
        _move(r, buyer);
        emit Delivered(id, seller, buyer, positionRef);
    }

    /// @notice The issuing warehouse splits an unpledged receipt into parts of the given
    /// quantities, which must sum to its quantity exactly. The receipt dies (Split).
    /// @return parts The new receipts' ids, in the order of `quantities`.
    function split(uint256 id, uint256[] calldata quantities) external restricted returns (uint256[] memory parts) {
        Receipt storage r = _live(id);
        _onlyIssuer(id, r);
        _unpledged(id);
        if (quantities.length < 2) revert TooFewParts(quantities.length);
        uint256 sum = 0;
        for (uint256 i = 0; i < quantities.length; i++) {
            if (quantities[i] == 0) revert ZeroQuantity();
            // Saturates rather than overflows, so any oversized part is a QuantityMismatch.
            sum = quantities[i] > type(uint256).max - sum ? type(uint256).max : sum + quantities[i];
        }
        if (sum != r.quantity) revert QuantityMismatch(id, r.quantity, sum);
        State state = r.state;
        r.state = State.Split;
        parts = new uint256[](quantities.length);
        for (uint256 i = 0; i < quantities.length; i++) {
            parts[i] = _copy(r, quantities[i], r.inspectionCertHash, r.expiry, state);
        }
        emit ReceiptSplit(id, r.holder, parts, quantities);
    }

    /// @notice The issuing warehouse merges unpledged receipts it issued, of one holder,
    /// commodity, grade, location and registration, into one of their summed quantity. It
    /// expires with the earliest of them; its certificate hash is theirs when they share
    /// one, else the hash of their hashes in order. The sources die (Merged).
    /// @return id The merged receipt's id.
    function merge(uint256[] calldata ids) external restricted returns (uint256 id) {
        if (ids.length < 2) revert TooFewParts(ids.length);
        Receipt storage first = _receipts[ids[0]]; // checked as the loop's first receipt
        uint256 sum = 0;
        uint64 expiry = type(uint64).max;
        bool sameCert = true;
        bytes32[] memory certs = new bytes32[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) {
            for (uint256 j = 0; j < i; j++) {
                if (ids[j] == ids[i]) revert DuplicateReceipt(ids[i]);
            }
            Receipt storage r = _live(ids[i]);
            _onlyIssuer(ids[i], r);
            _unpledged(ids[i]);
            _sameLot(ids[0], first, ids[i], r);
            sum += r.quantity;
            if (r.expiry < expiry) expiry = r.expiry;
            certs[i] = r.inspectionCertHash;
            sameCert = sameCert && certs[i] == first.inspectionCertHash;
        }
        State state = first.state;
        for (uint256 i = 0; i < ids.length; i++) {
            _receipts[ids[i]].state = State.Merged;
        }
        bytes32 certHash = sameCert ? first.inspectionCertHash : keccak256(abi.encodePacked(certs));
        id = _copy(first, sum, certHash, expiry, state);
        emit ReceiptsMerged(id, first.holder, ids, sum, certHash);
    }

    /// @notice The holder asks the issuing warehouse to cancel the receipt on withdrawal of
    /// the goods. The request lapses if the receipt changes hands.
    function requestCancellation(uint256 id) external {
        Receipt storage r = _live(id);
        _onlyHolder(id, r);
        _unpledged(id);
        r.cancelRequested = true;
        emit CancellationRequested(id, msg.sender);
    }

    /// @notice The issuing warehouse cancels (注销) a receipt whose holder requested it, as the
    /// goods are withdrawn: its quantity leaves both the live quantity and the declared stock.
    function cancel(uint256 id) external restricted {
        Receipt storage r = _live(id);
        _onlyIssuer(id, r);
        _unpledged(id);
        if (!r.cancelRequested) revert CancellationNotRequested(id);
        r.state = State.Cancelled;
        Stock storage s = _stocks[r.warehouse][r.commodity];
        s.live -= r.quantity;
        s.declared = s.declared > r.quantity ? s.declared - r.quantity : 0;
        emit ReceiptCancelled(id, r.warehouse, r.holder, r.quantity);
        emit StockDeclared(r.warehouse, r.commodity, s.declared, s.unit, s.live);
    }

    /// @notice Any active member marks a receipt past its expiry as expired: its quantity
    /// leaves the live quantity and any pledge on it lapses.
    function markExpired(uint256 id) external restricted {
        Receipt storage r = _known(id);
        _alive(id, r);
        if (block.timestamp < r.expiry) revert NotExpired(id, r.expiry);
        r.state = State.Expired;
        _stocks[r.warehouse][r.commodity].live -= r.quantity;
        emit MarkedExpired(id, r.warehouse, r.holder, r.quantity);
        address lender = _pledges[id].lender;
        if (lender != address(0)) {
            delete _pledges[id];
            emit PledgeLapsed(id, lender);
        }
    }

    /// @notice The record of receipt `id`.
    function receipt(uint256 id) external view returns (Receipt memory) {
        return _known(id);
    }

    // ---------------------------------------------------------------- pledges

    /// @notice The holder pledges a registered receipt to `lender` (a LENDER member) for a
    /// loan of `amount`, for `term` seconds; the term must end before the receipt expires.
    function pledge(uint256 id, address lender, uint256 amount, uint64 term) external {
        Receipt storage r = _live(id);
        _onlyHolder(id, r);
        if (r.state != State.Registered) revert NotRegistered(id);
        address current = _pledges[id].lender;
        if (current != address(0)) revert AlreadyPledged(id, current);
        if (!permissions.hasRole(lender, Roles.LENDER)) revert NotLender(lender);
        if (amount == 0) revert ZeroAmount();
        if (term == 0) revert ZeroTerm();
        uint256 end = block.timestamp + term;
        if (end >= r.expiry) revert TermBeyondExpiry(id, end, r.expiry);
        _pledges[id] = Pledge(lender, uint64(end), amount);
        emit Pledged(id, msg.sender, lender, amount, end);
    }

    /// @notice The lender releases the pledge on repayment; the holder keeps the receipt.
    function release(uint256 id) external restricted {
        Receipt storage r = _live(id);
        Pledge storage p = _onlyPledgee(id);
        address lender = p.lender;
        delete _pledges[id];
        emit PledgeReleased(id, lender, r.holder);
    }

    /// @notice On default, once the term has ended, the lender takes the receipt and the pledge ends.
    function enforce(uint256 id) external restricted {
        Receipt storage r = _live(id);
        Pledge storage p = _onlyPledgee(id);
        if (block.timestamp < p.end) revert TermNotEnded(id, p.end);
        address previous = r.holder;
        delete _pledges[id];
        _move(r, msg.sender);
        emit PledgeEnforced(id, msg.sender, previous);
    }

    /// @notice The pledge on receipt `id`; all zero when it is not pledged.
    function pledgeOf(uint256 id) external view returns (Pledge memory) {
        _known(id);
        return _pledges[id];
    }

    // --------------------------------------------------------------- internal

    function _declared(address warehouse, bytes32 commodity) private view returns (Stock storage s) {
        s = _stocks[warehouse][commodity];
        if (s.declaredAt == 0) revert UnknownDeclaration(warehouse, commodity);
    }

    function _known(uint256 id) private view returns (Receipt storage r) {
        r = _receipts[id];
        if (r.state == State.None) revert UnknownReceipt(id);
    }

    function _alive(uint256 id, Receipt storage r) private view {
        if (r.state != State.Issued && r.state != State.Registered) revert ReceiptNotLive(id, r.state);
    }

    /// @dev A known receipt that is neither dead nor past its expiry.
    function _live(uint256 id) private view returns (Receipt storage r) {
        r = _known(id);
        _alive(id, r);
        if (block.timestamp >= r.expiry) revert Expired(id, r.expiry);
    }

    function _circulating(uint256 id, Receipt storage r) private view {
        if (r.state != State.Registered) revert NotRegistered(id);
        _unpledged(id);
    }

    function _unpledged(uint256 id) private view {
        address lender = _pledges[id].lender;
        if (lender != address(0)) revert ReceiptPledged(id, lender);
    }

    function _onlyHolder(uint256 id, Receipt storage r) private view {
        if (r.holder != msg.sender) revert NotHolder(id, msg.sender, r.holder);
    }

    /// @dev The caller's WAREHOUSE role is checked by `restricted`; this is the business check.
    function _onlyIssuer(uint256 id, Receipt storage r) private view {
        if (r.warehouse != msg.sender) revert NotIssuingWarehouse(id, msg.sender);
    }

    /// @dev The caller's LENDER role is checked by `restricted`; this is the business check.
    function _onlyPledgee(uint256 id) private view returns (Pledge storage p) {
        p = _pledges[id];
        if (p.lender == address(0)) revert NotPledged(id);
        if (p.lender != msg.sender) revert NotPledgee(id, msg.sender);
    }

    function _sameLot(uint256 firstId, Receipt storage a, uint256 id, Receipt storage b) private view {
        if (a.holder != b.holder) revert MergeMismatch(firstId, id, MergeField.Holder);
        if (a.commodity != b.commodity) revert MergeMismatch(firstId, id, MergeField.Commodity);
        if (a.grade != b.grade) revert MergeMismatch(firstId, id, MergeField.Grade);
        if (a.location != b.location) revert MergeMismatch(firstId, id, MergeField.Location);
        if (a.state != b.state) revert MergeMismatch(firstId, id, MergeField.Registration);
    }

    /// @dev A new receipt like `src` but for `quantity`, in live `state`; the live quantity is unchanged.
    function _copy(Receipt storage src, uint256 quantity, bytes32 certHash, uint64 expiry, State state)
        private
        returns (uint256 id)
    {
        id = ++receiptCount;
        Receipt storage r = _receipts[id];
        r.commodity = src.commodity;
        r.grade = src.grade;
        r.quantity = quantity;
        r.unit = src.unit;
        r.location = src.location;
        r.inspectionCertHash = certHash;
        r.expiry = expiry;
        r.issuedAt = uint64(block.timestamp);
        r.warehouse = src.warehouse;
        r.holder = src.holder;
        r.state = state;
    }

    /// @dev Hands the receipt to `to`; a pending cancellation request lapses.
    function _move(Receipt storage r, address to) private {
        r.holder = to;
        r.cancelRequested = false;
    }
}
