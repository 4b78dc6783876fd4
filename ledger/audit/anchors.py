"""Anchoring a business chain on the regulatory chain (the CSRC two-layer design).

The business chain's platform reports, every `interval` blocks and at the end of a
run, the block height, block hash, state root and a digest of every event since
its last anchor to the regulator's ReportRegistry. Once anchored, a business chain
cannot rewrite that history without the anchors giving it away: `check_anchors`
recomputes each anchor from a ledger copy and names the first one that differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_hash.auto import keccak

from ledger.tooling.artifacts import load_contract
from ledger.chain.consortium import Consortium, Contract
from ledger.evm.base import ExecutedBlock
from ledger.errors import LedgerError
from ledger.chain.node import Node
from ledger.chain.reader import LedgerReader

EMPTY_DIGEST = b"\0" * 32
REPORT_REGISTRY = "ReportRegistry"


def chain_key(name: str) -> bytes:
    """The business chain's id in the ReportRegistry."""
    return keccak(f"pilotledger/chain/{name}".encode())


def event_digest(store: LedgerReader, after: int, upto: int) -> tuple[bytes, int]:
    """A hash chained over every event in blocks (after, upto], in order; and their count."""
    digest, count = EMPTY_DIGEST, 0
    for e in store.events(after=after, upto=upto):
        digest = keccak(digest + e.block_number.to_bytes(8, "big") + e.log_index.to_bytes(4, "big") + e.address
                        + e.topics + e.data)
        count += 1
    return digest, count


@dataclass(frozen=True)
class Anchor:
    block_number: int
    block_hash: bytes
    state_root: bytes
    event_digest: bytes


class Anchorer:
    """Sends `business`'s checkpoints to the regulatory chain's ReportRegistry through `reporter`.

    The regulatory chain commits each anchor in its own block, stamped no earlier than the
    business block it anchors."""

    def __init__(self, business: Consortium, regulatory: Consortium, reporter: Node, interval: int) -> None:
        if interval < 1:
            raise LedgerError(f"anchor interval must be at least 1 block, got {interval}")
        self.business = business
        self.regulatory = regulatory
        self.reporter = reporter
        self.registry: Contract = regulatory.contract("ReportRegistry")
        self.interval = interval
        self.key = chain_key(business.name)
        self.anchored_height = 0
        self.tickets = []
        previous = business.on_block

        def on_block(block: ExecutedBlock) -> None:
            if previous:
                previous(block)
            if block.number - self.anchored_height >= self.interval:
                self.anchor()

        business.on_block = on_block

    def anchor(self) -> None:
        """Anchors the business chain's head, unless it is anchored already."""
        head = self.business.head
        if head.number <= self.anchored_height:
            return
        digest, _ = event_digest(self.business.store, self.anchored_height, head.number)
        call = self.registry.call("anchor", self.key, head.number, head.hash, head.state_root, digest)
        # The gateway admits the anchor at the regulatory chain's clock: bring it up first.
        self.regulatory.time = max(self.regulatory.time, head.timestamp)
        ticket = self.reporter.send(call)
        self.tickets.append(ticket)
        self.regulatory.commit()
        if ticket.ok:  # a refused anchor is retried, digesting from the last anchor that stands
            self.anchored_height = head.number

    def report(self, kind: int, events: tuple[str, ...], uri: str) -> None:
        """Files one report of `kind`: the count and digest of the business chain's events named
        `events` up to its head, for the period ending at the head's timestamp."""
        head = self.business.head
        rows = list(self.business.store.events(names=events))
        digest = EMPTY_DIGEST
        for e in rows:
            digest = keccak(digest + e.block_number.to_bytes(8, "big") + e.log_index.to_bytes(4, "big")
                            + e.args_text.encode())
        self.regulatory.time = max(self.regulatory.time, head.timestamp)
        call = self.registry.call("report", self.key, kind, head.timestamp, len(rows), digest, uri)
        self.tickets.append(self.reporter.send(call))
        self.regulatory.commit()


def anchors_on(regulatory: LedgerReader, name: str) -> list[Anchor]:
    """The anchors of business chain `name` on a regulatory chain's ledger, in order, decoded from the raw
    logs of the ReportRegistry as the regulatory chain's headers and seals commit to them (LedgerError
    when the regulatory chain itself does not hold)."""
    from ledger.audit.verify import BadBlock, sealed_blocks  # verify reads what this module's anchors wrote

    key = chain_key(name)
    abi = load_contract(REPORT_REGISTRY).abi
    registries: set[bytes] = set()
    anchors = []
    try:
        for block in sealed_blocks(regulatory):
            registries.update(a for a, contract, _ in block.rows.contracts if contract == REPORT_REGISTRY)
            for log in block.logs:
                named = abi.decode_event(log.topics, log.data) if log.address in registries else None
                if named and named[0] == "Anchored" and bytes.fromhex(named[1]["chainId"][2:]) == key:
                    a = named[1]
                    anchors.append(Anchor(a["blockNumber"], bytes.fromhex(a["blockHash"][2:]),
                                          bytes.fromhex(a["stateRoot"][2:]), bytes.fromhex(a["eventDigest"][2:])))
    except BadBlock as bad:
        raise LedgerError(f"the regulatory chain does not hold: {bad}") from None
    return anchors


def problem_block(problem: str) -> int:
    """The first block a check_anchors problem names ("block N: ..." or "blocks A-B: ...")."""
    return int(re.search(r"\d+", problem).group())


def check_anchors(business: LedgerReader, name: str, regulatory: LedgerReader) -> list[str]:
    """Problems where the business chain's ledger no longer matches its anchors (empty: it matches)."""
    problems = []
    previous = 0
    for anchor in anchors_on(regulatory, name):
        block = business.block(anchor.block_number)
        if block is None:
            problems.append(f"block {anchor.block_number}: anchored on the regulatory chain but missing here")
        elif block.hash != anchor.block_hash:
            problems.append(f"block {anchor.block_number}: hash differs from the anchored hash")
        elif block.state_root != anchor.state_root:
            problems.append(f"block {anchor.block_number}: state root differs from the anchored one")
        elif event_digest(business, previous, anchor.block_number)[0] != anchor.event_digest:
            problems.append(f"blocks {previous + 1}-{anchor.block_number}: events differ from the anchored digest")
        previous = anchor.block_number
    return problems
