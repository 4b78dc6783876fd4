"""The exit drill of the fund-share platform, as a pilot's exit notice requires:
pause the platform, take a final snapshot of every holding signed by the platform
node, export the register, and check that no investor's holding was lost.

The snapshot (RUN_DIR/<chain>/exit/snapshot.json) is read from the chain itself at
the paused head and signed over its canonical JSON; the register
(RUN_DIR/<chain>/exit/register.csv) is the same holdings for people. Every
holding is checked against the platform's own book of what each investor should
hold, and each fund's holdings against its total shares on chain.
"""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

from eth_hash.auto import keccak

from ledger.trust.keys import recover_address

if TYPE_CHECKING:
    from .share_transfer import ShareTransfer

NOTICE = b"Pilot exit notice: fund share transfer platform winds down"


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def wind_down(scenario: "ShareTransfer") -> dict:
    """Runs the exit drill on a finished share_transfer run; returns its figures for the summary."""
    ctx, chain, shares, platform = scenario.ctx, scenario.chain, scenario.shares, scenario.platform
    notice_hash = keccak(NOTICE)
    paused = ctx.expect_ok(platform.send(shares.pause(notice_hash)))  # a refusal stops the run
    scenario.commit()
    _plant_trade_after_pause(scenario)
    scenario.commit()

    owners, head = scenario.owners, chain.head
    holdings, lost, funds = [], [], []
    for fund in scenario.funds:
        accounts = sorted(set(fund.holdings) | {a for a in owners if shares.balanceOf(fund.id, a)})
        for address in accounts:
            investor, _ = owners[address]
            held = shares.balanceOf(fund.id, address)
            row = {"fund": fund.id, "account": "0x" + address.hex(), "identity": "0x" + investor.id.hex(),
                   "investor": investor.label, "shares": held, "frozen": shares.frozenOf(fund.id, address)}
            holdings.append(row)
            if held != fund.holdings.get(address, 0):
                lost.append({**row, "booked": fund.holdings.get(address, 0)})
        total = shares.fund(fund.id).totalShares
        held_total = sum(r["shares"] for r in holdings if r["fund"] == fund.id)
        funds.append({"fund": fund.id, "total_shares": total, "held": held_total})
        if held_total != total:
            lost.append({"fund": fund.id, "total_shares": total, "held": held_total})

    snapshot = {"chain": chain.name, "block": head.number, "block_hash": "0x" + head.hash.hex(),
                "state_root": "0x" + head.state_root.hex(), "notice_hash": "0x" + notice_hash.hex(),
                "funds": funds, "holdings": holdings}
    digest = keccak(canonical(snapshot))
    signature = platform.account.sign_hash(digest)
    exit_dir = ctx.run_dir / chain.name / "exit"
    exit_dir.mkdir(parents=True, exist_ok=True)
    (exit_dir / "snapshot.json").write_text(json.dumps({
        "snapshot": snapshot, "digest": "0x" + digest.hex(), "signer": "0x" + platform.address.hex(),
        "signer_node": platform.name, "signature": "0x" + signature.hex(),
    }, indent=2) + "\n", encoding="utf-8")
    with open(exit_dir / "register.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, ["fund", "investor", "identity", "account", "shares", "frozen"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r for r in holdings if r["shares"])
    return {"paused_at_block": paused.block_number, "snapshot_block": head.number,
            "holdings": sum(1 for r in holdings if r["shares"]), "lost": lost,
            "snapshot_signed_by_platform": recover_address(digest, signature) == platform.address}


def _plant_trade_after_pause(scenario: "ShareTransfer") -> None:
    """An investor tries to sell after the pause: the chain must refuse it."""
    for fund in scenario.funds:
        for address, amount in sorted(fund.holdings.items()):
            seller, account = scenario.owners[address]
            if buyer := next((i for i in scenario.investors if i.eligible and i is not seller), None):
                ticket = seller.agent.send(scenario.shares.requestTransfer(
                    fund.id, buyer.accounts[0].address, amount, 0), signer=account)
                scenario.ctx.plant("trade_after_exit", "PlatformPaused", ticket,
                                   "an investor asks to sell after the platform paused for its exit",
                                   fund=fund.id, seller="0x" + seller.id.hex())
                return
