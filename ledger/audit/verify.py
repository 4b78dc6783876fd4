"""Reads a chain's stored ledger trusting only what its block headers and validators' seals commit to.

Block by block: the header hashes to the block hash and links to its parent, and its
columns are the header's own fields; the raw transactions give the header's transaction
root and the stored receipts and raw logs its receipts root; every refusal, with all its
fields, chains into the digest the block records; and a quorum of the validators in
force at that height sealed the chain's genesis record, the block hash, that digest and
a digest of every row stored with the block, so no column can change unseen. The
validators in force come from the founders of the genesis record and the
PermissionRegistry's events, decoded from the raw logs the receipts root commits to,
never from a decoded column. Rows tied to no sealed block are reported too.

`sealed_blocks` yields each block once it holds; the audit re-executes on top of it."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import rlp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from eth_hash.auto import keccak

from ledger.audit.anchors import anchors_on, check_anchors, problem_block
from ledger.trust.ca import certificate_address, issued_by
from ledger.chain.run import (LEDGER_FILE, chain_ledgers, chain_name, chain_names, holds_copy, ledger_path,
                              node_copies_of, own_name, read_marker, run_of, shown_choice, sibling)
from ledger.chain.consortium import CERTS_DIR, GENESIS_FILE, GENESIS_REFUSALS_DIGEST
from ledger.evm.mpt import receipt_rlp, trie_root
from ledger.errors import ConfigError, LedgerError
from ledger.chain.membership import REGISTRY, Membership, membership_at, registry_events
from ledger.chain.sealer import check_seals, genesis_id, link_refusal, seal_message
from ledger.chain.reader import TABLES, BlockRows, LedgerReader, parse_json

NODES_DIR = "nodes"  # RUN_DIR/<chain>/nodes/<NODE>/: a member's own files, its copy of the ledger among them


class BadBlock(Exception):
    """The first block (or `genesis`, number 0) where a ledger stops holding, and what is wrong."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"{'genesis' if number == 0 else f'block {number}'}: {problem}")
        self.number = number


@dataclass(frozen=True)
class SealedLog:
    log_index: int
    tx_hash: bytes
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class SealedBlock:
    """One block that holds: its rows, its raw logs and the membership in force when it was made."""

    number: int
    hash: bytes
    state_root: bytes
    timestamp: int
    rows: BlockRows
    logs: tuple[SealedLog, ...]
    membership: Membership  # before this block's own events; do not keep it past the next block


@dataclass
class Findings:
    """What a check of one chain found: the problem of its earliest bad block (0: the genesis record and
    the certificates), and notes worth knowing that are no failure (a member's copy that lags)."""

    chain: str
    problems: list[str] = field(default_factory=list, kw_only=True)
    first_bad_block: int | None = field(default=None, kw_only=True)
    notes: list[str] = field(default_factory=list, kw_only=True)

    @property
    def verified(self) -> bool:
        return not self.problems

    def fail(self, number: int, problem: str) -> None:
        """Keeps only the problem of the earliest bad block."""
        if self.first_bad_block is None or number < self.first_bad_block:
            self.problems = [problem]
            self.first_bad_block = number


@dataclass
class Verification(Findings):
    blocks: int = 0
    transactions: int = 0
    refusals: int = 0

    def to_json(self) -> dict:
        return {"chain": self.chain, "verified": self.verified, "blocks": self.blocks,
                "transactions": self.transactions, "refusals": self.refusals, "problems": self.problems,
                "first_bad_block": self.first_bad_block, "notes": self.notes}


def read_genesis(chain_dir: Path) -> dict | None:
    """The chain's public genesis record (RUN_DIR/<chain>/genesis.json), None if the run wrote none (a run
    killed before its first block)."""
    path = chain_dir / GENESIS_FILE
    if not path.exists():
        return None
    try:
        genesis = parse_json(path.read_text(encoding="utf-8"), f"{path}")
    except (OSError, ValueError) as exc:
        raise LedgerError(f"{path} is not a genesis record: {exc}") from None
    if not isinstance(genesis, dict):
        raise LedgerError(f"{path} is not a genesis record: it holds no object")
    if genesis.get("chain") != chain_dir.name:
        raise LedgerError(f"{path} is the genesis record of chain {genesis.get('chain')!r}, not of "
                          f"{chain_dir.name!r}: a chain's folder bears its name")
    return genesis


def sealed_blocks(store: LedgerReader, genesis: dict | None = None,
                  membership: Membership | None = None) -> Iterator[SealedBlock]:
    """The ledger's blocks, in order, each once it holds; raises BadBlock at the first that does not.
    `genesis` is the chain's public genesis record, which the ledger's own must equal; `membership`, if
    given, is filled from the genesis and kept up to date block by block. After the last block, every
    row of every table must have been one of the blocks' rows: nothing else is in the file."""
    problem = store.schema_problem()
    if problem:
        raise BadBlock(0, problem)
    try:
        meta = store.meta()
    except (LedgerError, sqlite3.DatabaseError) as exc:
        raise BadBlock(0, str(exc)) from None
    if genesis is not None and meta != genesis:
        raise BadBlock(0, "the ledger's genesis record differs from the chain's genesis.json")
    membership = membership or Membership()
    try:
        if not all(isinstance(meta.get(k, 0), int) for k in ("chain_id", "genesis_time", "genesis_number")):
            raise ValueError("chain_id, genesis_time and genesis_number must be whole numbers")
        membership.found_all(meta)
        parent_hash = _hex(meta["genesis_hash"])
        number = meta.get("genesis_number", 0)  # an rpc chain starts after the node's head
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise BadBlock(0, f"the genesis record is malformed ({exc!r})") from None
    sealed_genesis = genesis_id(meta)
    registry: bytes | None = None
    digest = GENESIS_REFUSALS_DIGEST
    checked = dict.fromkeys(TABLES, 0)
    checked["meta"] = len(meta)
    for stored_number in _numbers(store):
        number += 1
        if stored_number != number:
            raise BadBlock(number, "missing (the next stored block is {})".format(stored_number))
        try:
            rows, seals = store.block_rows(number), store.seals(number)
        except sqlite3.DatabaseError as exc:
            raise BadBlock(number, f"its rows cannot be read: {exc}") from None
        block_hash, header = _check_header(number, rows, parent_hash)
        logs = _check_bodies(number, rows, header)
        digest = _check_refusals(number, rows, digest)
        message = seal_message(sealed_genesis, block_hash, digest, rows.records_digest())
        problem = check_seals(message, seals, membership.validators())
        if problem:
            raise BadBlock(number, problem)
        for table, count in rows.counts().items():
            checked[table] += count
        checked["seals"] += len(seals)
        yield SealedBlock(number, block_hash, rows.block[3], rows.block[4], rows, logs, membership)
        registry = registry or next((a for a, name, _ in rows.contracts if name == REGISTRY), None)
        membership.apply(registry_events(registry, logs))
        parent_hash = block_hash
    stored = store.row_counts()
    extra = {table: stored[table] - checked[table] for table in TABLES if stored[table] != checked[table]}
    if extra:
        stray = store.stray_rows(number)
        low = min((s[1] for s in stray if isinstance(s[1], int)), default=number + 1)
        table, count = next(iter(extra.items()))
        raise BadBlock(low, f"{count} {table} row(s) tied to no sealed block (the head is block {number})")


def membership_at_head(store: LedgerReader) -> Membership:
    """Who is a member, with which roles, at the head of a ledger that holds (LedgerError if it does not):
    ledger.chain.membership's replay, run as the ledger is checked block by block."""
    membership = Membership()
    try:
        for _ in sealed_blocks(store, membership=membership):
            pass
    except BadBlock as bad:
        raise LedgerError(f"{store.path}: {bad}; run `pilotledger audit` on it") from None
    return membership


def require_holds(ledger: Path) -> None:
    """Refuses (LedgerError, one line) a ledger file that does not hold: what a chain is checked with before
    it is reopened to add blocks (ledger.chain.reopen trusts the membership it replays)."""
    with LedgerReader(ledger) as store:
        membership_at_head(store)


def _numbers(store: LedgerReader) -> Iterator[int]:
    try:
        numbers = store.block_numbers()
    except sqlite3.DatabaseError as exc:
        raise BadBlock(0, f"the ledger cannot be read: {exc}") from None
    for number in numbers:
        if not isinstance(number, int):
            raise BadBlock(0, f"a block number is not a number: {number!r}")
        yield number


F = TypeVar("F", bound="Findings")


def _count_sealed(store: LedgerReader, genesis: dict | None, membership: Membership, result: Verification) -> None:
    try:
        for block in sealed_blocks(store, genesis, membership):
            result.blocks += 1
            result.transactions += len(block.rows.transactions)
            result.refusals += len(block.rows.refusals)
    except BadBlock as bad:
        result.fail(bad.number, str(bad))


def check_ledger(chain_dir: Path, ledger: Path, result: F,
                 check: Callable[[LedgerReader, dict | None, Membership], None]) -> F:
    """Opens `ledger`, a copy of the chain in `chain_dir`, read-only and runs `check(store, genesis,
    membership)` on it (the replay fills `membership`); then checks the chain's public files against the
    membership it ended with. A genesis record or ledger that cannot be read fails `result` at block 0.
    The one frame of verify and the audit."""
    try:
        genesis = read_genesis(chain_dir)
        store = LedgerReader(ledger)
    except LedgerError as exc:
        result.fail(0, str(exc))
        return result
    membership = Membership()
    try:
        check(store, genesis, membership)
        has_blocks = has_blocks_in(store)
    finally:
        store.close()
    for problem in check_public_files(chain_dir, genesis, membership, has_blocks):
        result.fail(0, problem)
    return result


def verify_chain(chain_dir: Path, ledger: Path | None = None, name: str | None = None) -> Verification:
    """Verifies the chain in `chain_dir` (or the copy of it at `ledger`) and the chain's public files; `name` is
    the chain's name in its run (default: its folder's)."""
    result = Verification(name or chain_dir.name)
    return check_ledger(chain_dir, ledger or chain_dir / LEDGER_FILE, result,
                        lambda store, genesis, membership: _count_sealed(store, genesis, membership, result))


def has_blocks_in(store: LedgerReader) -> bool:
    """Whether the ledger holds any block."""
    try:
        return store.head() is not None
    except sqlite3.DatabaseError:
        return True  # a damaged file: its own check has said so


def check_public_files(chain_dir: Path, genesis: dict | None, membership: Membership,
                       has_blocks: bool) -> list[str]:
    """Problems with the public files a chain is checked against: its genesis record, which a chain with
    blocks must have, and its certificates (check_certificates)."""
    if genesis is None:
        return [f"{chain_dir / GENESIS_FILE} is missing: without its public genesis record a chain's "
                "founders and CA cannot be checked"] if has_blocks else []
    return check_certificates(chain_dir / CERTS_DIR, genesis, membership)


_HELD: set[tuple] = set()  # ledgers found to hold in this process, by file identity (path, mtime, sizes)


def sealed_ledgers(run_dir: Path, anchored: bool = True) -> list[Path]:
    """The run's chain ledgers, each checked to hold before anything is read from it: what the regulator's
    queries stand on. LedgerError names the first that does not. A file unchanged since it held in this
    process is not checked again (several queries of one command read the same ledgers). With `anchored`
    False a chain need not match its anchors: the supervision rules report that themselves (anchor_problems)."""
    ledgers = chain_ledgers(run_dir)
    require_pinned(run_dir)
    for ledger in ledgers:
        chain = chain_name(run_dir, ledger)
        files = (ledger, ledger.with_name(LEDGER_FILE + "-wal"), ledger.parent / GENESIS_FILE)
        identity = (str(ledger), *((p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else None for p in files))
        if (identity, anchored) in _HELD or (identity, True) in _HELD:
            continue
        result = verify_chain(ledger.parent, name=chain)
        _check_copy_heads(ledger.parent, result)
        if anchored:
            _check_anchors(run_dir, chain, result)
        if not result.verified:
            raise LedgerError(f"chain {chain} does not hold, so nothing is read from it: "
                              f"{result.problems[0]} (run `pilotledger audit {run_dir}`)")
        _HELD.add((identity, anchored))
    return ledgers


def anchor_problems(run_dir: Path, chain: str) -> list[tuple[int, str]]:
    """(block, problem) wherever chain `chain` of the run no longer matches its anchors on the regulatory chain."""
    result = Findings(chain)
    _check_anchors(run_dir, chain, result)
    return [(result.first_bad_block, problem) for problem in result.problems]


def _check_copy_heads(chain_dir: Path, result: Findings) -> None:
    """The cheap part of check_member_copies, for the queries: no member's copy may go beyond the chain."""
    head = _head_number(chain_dir / LEDGER_FILE)
    for member, copy in member_copies(chain_dir):
        theirs = _head_number(copy)
        if theirs > head:
            result.fail(head + 1, f"the chain ends at block {head} but {member}'s copy goes on to block {theirs}: "
                                  "the chain has lost blocks")


def regulatory_ledger(run_dir: Path, chain: str) -> Path | None:
    """The run's regulatory chain ledger: the one the chain's genesis record names (LedgerError if it is
    missing), else any other chain of the same (sub-)run carrying a ReportRegistry, if there is one."""
    genesis = read_genesis(run_dir / chain) or {}
    named = genesis.get("anchored_on")
    if named:
        # Named by its own name, beside the chain in the (sub-)run that wrote both.
        if not (run_of(run_dir, chain) / str(named) / LEDGER_FILE).is_file():
            raise LedgerError(f"{chain}'s genesis record says it is anchored on chain {named}, which is missing "
                              "from the run")
        return run_of(run_dir, chain) / str(named) / LEDGER_FILE
    for other in chain_names(run_dir):
        if other == chain or sibling(chain, own_name(other)) != other:
            continue  # another market's regulatory chain anchors none of this one
        try:
            store = LedgerReader(ledger_path(run_dir, other))
        except LedgerError:
            continue
        try:
            if store.contracts("ReportRegistry"):
                return ledger_path(run_dir, other)
        finally:
            store.close()
    return None


def _check_anchors(run_dir: Path, chain: str, result: Findings) -> None:
    """The chain must still match its anchors on the run's regulatory chain, if it has one."""
    try:
        regulatory = regulatory_ledger(run_dir, chain)
        business = LedgerReader(ledger_path(run_dir, chain))
    except LedgerError as exc:
        result.fail(0, str(exc))
        return
    try:
        if regulatory is not None:
            check_anchored(business, chain, regulatory, result)
    finally:
        business.close()


def check_anchored(business: LedgerReader, chain: str, regulatory: Path, result: Findings) -> int:
    """Fails `result` at each block where `business`, a copy of chain `chain` (its name in the run; the anchors
    bear its own name), no longer matches its anchors on the regulatory chain's ledger at `regulatory`;
    returns how many anchors there are."""
    chain = own_name(chain)
    try:
        store = LedgerReader(regulatory)
    except LedgerError as exc:
        result.fail(0, f"regulatory chain: {exc}")
        return 0
    try:
        for problem in check_anchors(business, chain, store):
            result.fail(problem_block(problem), problem)
        return len(anchors_on(store, chain))
    except LedgerError as exc:
        result.fail(0, str(exc))
        return 0
    finally:
        store.close()


def _head_number(ledger: Path) -> int:
    try:
        store = LedgerReader(ledger)
    except LedgerError:
        return 0
    try:
        head = store.head()
        return head[0] if head else 0
    except sqlite3.DatabaseError:
        return 0
    finally:
        store.close()


def verify_run(run_dir: Path, pins: Path | None = None) -> list[Verification]:
    """Verifies every chain in a run directory, and every member's copy of it; with `pins`, each chain
    against the genesis the regulator pinned for it (see apply_pins)."""
    results = []
    for path in chain_ledgers(run_dir):
        result = verify_chain(path.parent, name=chain_name(run_dir, path))
        check_member_copies(path.parent, result)
        results.append(result)
    return apply_pins(run_dir, results, pins, Verification)


PINS_ENV = "PILOTLEDGER_PINS"  # the regulator's pins file, for the queries as for --pin


def pins_from_env() -> Path | None:
    given = os.environ.get(PINS_ENV, "").strip()
    return Path(given) if given else None


def require_pinned(run_dir: Path) -> None:
    """With the regulator's pins in PILOTLEDGER_PINS, refuses (LedgerError) a run whose chains are not the
    pinned ones: what every command that reads or extends a run calls first."""
    pins = pins_from_env()
    if pins is None:
        return
    if not pins.is_file():
        raise ConfigError(f"{PINS_ENV} names {pins}, which is not a pins file")
    for result in apply_pins(run_dir, [], pins, Verification, write_new=False):
        if not result.verified:
            raise LedgerError(f"{result.problems[0]}; nothing is read from the run")


def genesis_pins(run_dir: Path) -> dict[str, str]:
    """chain -> the hash of its genesis record (which names its founders and its CA certificate)."""
    pins = {}
    for chain in chain_names(run_dir):
        genesis = read_genesis(run_dir / chain)
        if genesis is not None:
            pins[chain] = "0x" + genesis_id(genesis).hex()
    return pins


def apply_pins(run_dir: Path, results: list[Findings], pins: Path | None,
               make: Callable[[str], Findings | None], write_new: bool = True) -> list[Findings]:
    """The run's own files cannot vouch for themselves: a member who rewrites a chain from genesis with its
    own CA, or drops in a chain of its own, leaves every file consistent. The regulator's pins file (JSON:
    chain -> genesis record hash, outside the run) is the root of trust: every chain must be pinned, with
    that genesis, and every pinned chain present. A pins file that does not exist yet is written from a run
    that verified (trust on first use) unless `write_new` is false. `make(chain)` makes a result for a chain
    that has none in `results`, or gives None to leave it out."""
    if pins is None:
        return results
    try:
        current = genesis_pins(run_dir)
    except LedgerError:
        return results  # each chain's own check has said what is wrong with its genesis record
    if not pins.exists():
        if write_new and all(r.verified for r in results):
            try:
                pins.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write the pins file {pins}: {exc.strerror or exc}") from None
        return results
    try:
        pinned = parse_json(pins.read_text(encoding="utf-8"), str(pins))
        if not isinstance(pinned, dict):
            raise LedgerError(f"{pins} holds no object of chain -> genesis hash")
    except (OSError, LedgerError) as exc:
        raise ConfigError(f"cannot read the pins file {pins}: {exc}") from None
    by_chain = {r.chain: r for r in results}
    for chain in sorted(set(pinned) | set(current)):
        result = by_chain.get(chain) or make(chain)
        if result is None:
            continue
        if chain not in by_chain:
            results.append(result)
        if chain not in pinned:
            result.fail(0, f"chain {chain} is not pinned in {pins}: not a chain the regulator knows")
        elif chain not in current:
            result.fail(0, f"chain {chain}, pinned in {pins}, is missing from the run")
        elif pinned[chain] != current[chain]:
            result.fail(0, f"chain {chain}'s genesis record is not the one pinned in {pins}")
    return results


def member_copies(chain_dir: Path) -> list[tuple[str, Path]]:
    """(node, ledger file) of every member's copy of the chain in `chain_dir`."""
    return [(p.parent.name, p) for p in sorted((chain_dir / NODES_DIR).glob(f"*/{LEDGER_FILE}"))]


def check_member_copies(chain_dir: Path, result: Findings) -> None:
    """Checks every member's copy against the chain: each must hold on its own (seals and all) and agree
    with the chain block by block. A copy that is a shorter prefix of the chain lags; it is not wrong.
    In a complete run, every member the run chose to hold a copy (--node-copies) must hold one.
    `result` gets the earliest problem and the notes."""
    try:
        chain = LedgerReader(chain_dir / LEDGER_FILE)
    except LedgerError:
        return  # the chain's own check has said so
    try:
        ours = {n: _sealed_content(chain.block_rows(n)) for n in chain.block_numbers()}
        head = max(ours, default=0)
        if ours:  # a chain with no block has no member yet
            _check_copy_holders(chain_dir, chain, result)
    finally:
        chain.close()
    try:
        genesis = read_genesis(chain_dir)
    except LedgerError:
        return  # the chain's own check has said so
    for member, copy in member_copies(chain_dir):
        where = f"{member}'s copy"
        held = 0
        try:
            store = LedgerReader(copy)
        except LedgerError as exc:
            result.fail(0, f"{where}: {exc}")
            continue
        try:
            for block in sealed_blocks(store, genesis):
                if block.number > head:
                    raise BadBlock(block.number, f"the chain ends at block {head} but {member}'s copy, which "
                                                 "holds, goes on: the chain has lost blocks")
                if ours.get(block.number) != _sealed_content(block.rows):
                    raise BadBlock(block.number, f"forks from the chain (the chain holds {head} blocks)")
                held = block.number
        except BadBlock as bad:
            result.fail(bad.number, str(bad) if bad.number > head else f"{where}: {bad}")
            continue
        finally:
            store.close()
        if held < head:
            result.notes.append(f"{where} lags: it ends at block {held} of {head}")


def _check_copy_holders(chain_dir: Path, chain: LedgerReader, result: Findings) -> None:
    """Each member (a certified node the chain's registry admitted) that the (sub-)run's --node-copies gives a
    copy must hold one once the run is complete (copies are written at its end); one that holds none by the
    run's choice is a note. A run that recorded no choice (made before the option) is not checked here."""
    run = chain_dir.parent
    choice = node_copies_of(run)
    if choice is None or read_marker(run) is not None:
        return
    try:
        membership = membership_at(chain)
    except Exception:  # noqa: BLE001 - a damaged chain ledger, whatever its damage: its own check says where
        return
    certified = sorted(p.stem for p in (chain_dir / CERTS_DIR).glob("*.pem") if p.stem not in ("ca", "crl"))
    members = [n for n in certified if membership.address_of(n) is not None
               and not (chain_dir / NODES_DIR / n / LEDGER_FILE).exists()]
    for node in members:
        if holds_copy(choice, node):
            result.fail(0, f"{node}'s copy is missing, though the run gives {node} one "
                           f"(--node-copies {shown_choice(choice)})")
    without = [n for n in members if not holds_copy(choice, n)]
    if without:
        result.notes.append(f"no copy held by {', '.join(without)}, by the run's choice "
                            f"(--node-copies {shown_choice(choice)})")


def check_certificates(certs: Path, genesis: dict, membership: Membership) -> list[str]:
    """Problems with a chain's public certificates: the CA certificate must be the one the genesis record
    names; the revocation list and every certificate naming the CA as issuer must be signed by it; and a
    member's certificate (certs/<NODE>.pem, NODE being the member's organisation id) must be the CA's,
    issued to NODE, for the member's own key."""
    try:
        ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
        crl = x509.load_pem_x509_crl((certs / "crl.pem").read_bytes())
    except (OSError, ValueError) as exc:
        return [f"certificates: the CA certificate or revocation list is missing or unreadable ({exc})"]
    if "0x" + ca.fingerprint(hashes.SHA256()).hex() != genesis.get("ca_fingerprint"):
        return ["certificates: ca.pem is not the CA certificate the genesis record names"]
    problems = []
    if not crl.is_signature_valid(ca.public_key()):
        problems.append("certificates: crl.pem is not signed by the consortium CA")
    for path in sorted(certs.glob("*.pem")):
        if path.stem in ("ca", "crl"):
            continue
        member = membership.address_of(path.stem)
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
            # Another issuer's certificate is no member's (the gateway refuses it): only the CA's are checked.
            if (certificate.issuer == ca.subject or member is not None) and not issued_by(ca, certificate):
                raise ValueError("not signed by the CA")
            if member is not None and (_common_name(certificate) != path.stem
                                       or certificate_address(certificate) != member):
                problems.append(f"certificates: {path.name} is not {path.stem}'s certificate for its member key")
        except (ValueError, TypeError, LedgerError):
            problems.append(f"certificates: {path.name} is not a certificate signed by the consortium CA")
    return problems


def _common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


# ------------------------------------------------------------------------------------------- per block

def _sealed_content(rows: BlockRows) -> tuple[bytes, bytes, bytes]:
    """What a block's seals cover of it besides the genesis record: hash, refusals digest, rows digest."""
    return rows.block[1], rows.block[7], rows.records_digest()


def _hex(value: object) -> bytes:
    return bytes.fromhex(str(value)[2:]) if value else b""


def _check_header(number: int, rows: BlockRows, parent_hash: bytes) -> tuple[bytes, list]:
    """The block hash, after checking that the blocks row is the header's own fields."""
    _, block_hash, stored_parent, state_root, timestamp, gas_used, tx_count, _, header_rlp = rows.block
    if keccak(header_rlp) != block_hash:
        raise BadBlock(number, "header does not hash to the stored block hash")
    try:
        header = rlp.decode(header_rlp)
        fields = (header[0], rlp.sedes.big_endian_int.deserialize(header[8]), header[3],
                  rlp.sedes.big_endian_int.deserialize(header[11]), rlp.sedes.big_endian_int.deserialize(header[10]))
    except Exception as exc:  # any malformed header
        raise BadBlock(number, f"header does not decode: {exc}") from None
    if stored_parent != parent_hash or header[0] != parent_hash:
        raise BadBlock(number, f"parent hash does not match block {number - 1}")
    if fields != (stored_parent, number, state_root, timestamp, gas_used) or tx_count != len(rows.transactions):
        raise BadBlock(number, "the stored block row differs from its header")
    return block_hash, header


def _check_bodies(number: int, rows: BlockRows, header: list) -> tuple[SealedLog, ...]:
    """The block's raw logs, after checking transactions and receipts against the header's roots."""
    txs, receipts = rows.transactions, rows.receipts
    if [t[2] for t in txs] != list(range(len(txs))) or [r[0] for r in receipts] != [t[0] for t in txs]:
        raise BadBlock(number, "transactions are not numbered in order, each with its receipt")
    if any(keccak(t[10]) != t[0] for t in txs):
        raise BadBlock(number, "a transaction's hash is not the hash of its raw bytes")
    if trie_root((rlp.encode(i), t[10]) for i, t in enumerate(txs)) != header[4]:
        raise BadBlock(number, "transactions do not give the header's transaction root")
    by_tx: dict[bytes, list[SealedLog]] = {t[0]: [] for t in txs}
    logs = []
    for index, (_, log_index, tx_hash, address, _, _, _, topics, data) in enumerate(rows.events):
        if log_index != index or tx_hash not in by_tx or len(topics) % 32:
            raise BadBlock(number, f"event {log_index} is out of place")
        log = SealedLog(log_index, tx_hash, address, tuple(topics[i:i + 32] for i in range(0, len(topics), 32)), data)
        by_tx[tx_hash].append(log)
        logs.append(log)
    if [log.tx_hash for log in logs] != [t[0] for t in txs for _ in by_tx[t[0]]]:
        raise BadBlock(number, "events are not in their transactions' order")
    encoded, cumulative = [], 0
    for (tx_hash, status, gas_used, *_) in receipts:
        cumulative += gas_used
        logs_of = [(g.address, g.topics, g.data) for g in by_tx[tx_hash]]
        encoded.append((rlp.encode(len(encoded)), receipt_rlp(bool(status), cumulative, logs_of)))
    if trie_root(encoded) != header[5]:
        raise BadBlock(number, "receipts and events do not give the header's receipts root")
    return tuple(logs)


def _check_refusals(number: int, rows: BlockRows, digest: bytes) -> bytes:
    for seq, _block, *fields, stored in rows.refusals:
        digest = link_refusal(digest, (seq, *fields))
        if stored != digest:
            raise BadBlock(number, f"refusal {seq} differs from what the refusal digest covers")
    if digest != rows.block[7]:
        raise BadBlock(number, "refusals do not chain into the digest the block records")
    return digest
