// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title IIdentityRegistry
/// @notice What markets and compliance read from the IdentityRegistry: the identity behind an account,
/// its kind and qualification, and a look-through walk (see IdentityRegistry for the bounds).
/// ABI-compatible with IdentityRegistry, whose enums and struct these mirror.
interface IIdentityRegistry {
    enum Kind { None, NaturalPerson, Institution, RegisteredProduct, UnregisteredVehicle }
    enum Failure { None, NotQualified, NoInvestors, TooDeep, TooLarge }

    struct LookThrough {
        Failure failure;
        uint32 units;
        bytes32 identity;
        bytes32 vehicle;
        uint16 limit;
    }

    function identityOf(address account) external view returns (bytes32);
    function isQualified(bytes32 id) external view returns (bool);
    function standing(bytes32 id) external view returns (Kind kind, bool qualified);
    function lookThrough(bytes32 id, uint8 maxDepth, bool qualify) external view returns (LookThrough memory);
}
