"""Ids as a regulator reads them on the command line: the public name beside each id (an account's
organisation code from PermissionRegistry's MemberAdded, a client account's label and the node holding it,
a company's code, a fund's number), the unit of each commodity, and short ids taken back as input.

A short id (`0x1a2b…9f0e`, ledger.present.fmt.short_id) pastes into the next command: `expand_id` turns
it, or any unambiguous prefix, back into the one full id of the run it names, and refuses an ambiguous
one listing the full candidates; `--full` prints every id in full."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ledger.chain.reader import LedgerReader
from ledger.errors import ConfigError, LedgerError
from ledger.present import fmt
from ledger.present.i18n import translator
from ledger.trust.keystore import ClientDirectory

_ = translator("cli")

# `0x1a2b…9f0e` (also with "..." for the ellipsis), or a bare prefix of at least 4 hex digits.
SHORT = re.compile(r"^(0x[0-9a-f]{4,})(?:…|\.\.\.)([0-9a-f]+)$|^(0x[0-9a-f]{4,})$")
FULL_LENGTHS = (42, 66)  # an account (20 bytes), an identity or company id (32 bytes)


def text32(value: object) -> str:
    """A NUL-padded bytes32 ("0x6b67 00…") as its text ("kg"); anything else as given."""
    code = fmt.company_code(value) if isinstance(value, str) else None
    return code if code is not None else str(value)


@dataclass
class Names:
    """The public names of one run's parties, read from its ledgers (no key is opened), and whether ids are
    printed in `full`."""

    full: bool = False
    orgs: dict[str, str] = field(default_factory=dict)  # account -> organisation code (MemberAdded orgId)
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # account -> (label, holding node)
    units: dict[str, str] = field(default_factory=dict)  # commodity -> unit its warehouses declare it in

    @classmethod
    def read(cls, ledgers: Iterable[Path], full: bool = False) -> "Names":
        """From the given ledger files (RUN_DIR/<chain>/ledger.sqlite): read them only once they hold, e.g.
        the ones ledger.supervision.lookthrough.index.ledger_files returns."""
        names = cls(full)
        for path in ledgers:
            try:
                with LedgerReader(path) as ledger:
                    for e in ledger.events(contracts="PermissionRegistry", names="MemberAdded", decoded=True):
                        names.orgs[str(e.args["account"]).lower()] = text32(e.args["orgId"])
                    for e in ledger.events(contracts="WarehouseReceipt", names=("StockDeclared", "ReceiptIssued"),
                                           decoded=True):
                        if "unit" in e.args:
                            names.units.setdefault(text32(e.args["commodity"]), text32(e.args["unit"]))
            except (LedgerError, KeyError):  # names are a courtesy: an id stays readable without one
                continue
            names._read_clients(path.parent)
        return names

    def _read_clients(self, chain_dir: Path) -> None:
        certified = sorted({p.stem for p in (chain_dir / "certs").glob("*.pem")} - {"ca", "crl"})
        try:
            directory = ClientDirectory(chain_dir, certified)
        except (OSError, LedgerError, ConfigError):
            return
        for address, held in directory.by_address().items():
            self.clients.setdefault("0x" + bytes(address).hex(), held)

    # ------------------------------------------------------------------ parties

    def id(self, value: str | None) -> str:
        """An id alone, short or in full."""
        return fmt.short_id(value, self.full)

    def name_of(self, account: str | None) -> str | None:
        """An account's public name: its organisation's code, or "LABEL (client of NODE)"; None if it has none."""
        if not account:
            return None
        key = str(account).lower()
        if key in self.orgs:
            return self.orgs[key]
        if key in self.clients:
            label, node = self.clients[key]
            return _("{label}, client of {node}").format(label=label, node=node)
        return None

    def by_address(self) -> dict[str, str]:
        """address -> public name, for ledger.report.labels.detail."""
        return {a: name for a in [*self.orgs, *self.clients] if (name := self.name_of(a))}

    def account(self, account: str | None) -> str:
        """"CMST-SH (0x666f…fb30)": the name beside the id, or the id alone."""
        return fmt.party(account, self.name_of(account), self.full)

    def org(self, account: str | None, org: str | None = None) -> str:
        """A member by its code alone where the code is known (a node's name, which `view`, `send --node` and
        `client:`/`node:` arguments take), in full also its address; else as `account`."""
        code = org or self.name_of(account)
        if code and not self.full:
            return code
        return fmt.party(account, code, self.full)

    def identity(self, identity: str | None) -> str:
        """An identity: its id (identities have no public name; the regulator opens them with `view --as`)."""
        return fmt.short_id(identity, self.full)

    def company(self, company_id: str | None) -> str:
        return fmt.company(company_id, full=self.full)

    def asset(self, asset: str | None) -> str:
        """`fund:3` -> "fund 3"; `company:0x…` -> its code (in full also the id)."""
        if not asset:
            return fmt.NONE
        kind, _sep, key = str(asset).partition(":")
        if kind == "fund":
            return _("fund {n}").format(n=key)
        if kind == "company":
            return self.company(key)
        return self.id(asset)

    # ------------------------------------------------------------------ quantities

    def unit(self, commodity: str | None) -> str:
        return self.units.get(commodity or "", "")

    def quantity(self, amount: int | float | None, commodity: str | None = None, unit: str | None = None) -> str:
        """A commodity's quantity with its unit ("50,000 kg" / "50,000 千克")."""
        unit = unit or self.unit(commodity)
        return fmt.quantity(amount, unit) if unit else fmt.number(amount) if amount is not None else fmt.NONE

    def goods(self, commodity: str | None, amount: int | float | None, unit: str | None = None) -> str:
        """"aluminium 50,000 kg" / "铝 50,000 千克"."""
        return f"{fmt.commodity(commodity or '')} {self.quantity(amount, commodity, unit)}".strip()


def expand_id(text: str, candidates: Iterable[str], what: str = "id") -> str:
    """The one full id among `candidates` that `text` abbreviates (a printed short id `0x1a2b…9f0e`, or a
    prefix of at least 4 hex digits); `text` unchanged when it is no abbreviation or matches nothing (the
    query then says what is wrong). Several matches are a ConfigError listing them in full."""
    raw = text.strip()
    prefix_kind, _sep, rest = raw.partition(":")
    if rest and prefix_kind.lower() in ("identity", "company", "account"):
        return f"{prefix_kind}:{expand_id(rest, candidates, what)}"
    low = raw.lower()
    if len(low) in FULL_LENGTHS and not ("…" in low or "..." in low):
        return raw
    m = SHORT.match(low)
    if not m:
        return raw
    head, tail = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), "")
    found = sorted({c for c in candidates if c.startswith(head) and c.endswith(tail)})
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (_(" and {n} more").format(n=len(found) - 5) if len(found) > 5 else "")
        raise ConfigError(_("{given} could be any of {n} {what}s: {ids}; give one in full (--full prints ids in "
                            "full)").format(given=text, n=len(found), what=what, ids=shown))
    return found[0] if found else raw
