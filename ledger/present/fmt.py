"""Values as a regulator reads them, in the current language (ledger.present.i18n):

    date_time(1651420740)        2022-05-01 23:59          (Beijing time, UTC+8, the pilots' clock)
    date(1651420740)             2022-05-01
    date_range(a, b)             2022-05-01 – 2022-05-10  /  since 2022-05-01 (自 2022-05-01 起)
    days(864000)                 10 days  /  10 天
    cny(1000000)                 1,000,000 CNY  /  1,000,000 元
    quantity(50, "t")            50 t  /  50 吨
    roles(Role.PLATFORM | ...)   platform, validator  /  交易平台、验证者
    party("0x1a2b…", "Wang Wei") Wang Wei (0x1a2b…9f0e);  full=True: the whole id, to paste into a query
    company("0x4246…00")         BJ-0001 (the code a company id's NUL-padded bytes32 holds)

Every function is pure and takes plain values (ints, hex strings, names), so this stage needs nothing above
`errors`; role masks are any IntFlag (ledger.chain.roles.Role) or a list of role names."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from decimal import Decimal

from ledger.present.i18n import CHINESE, N_, current_language, plural_translator, translator

__all__ = ["BEIJING", "ROLE_LABELS", "KIND_LABELS", "UNITS", "unit", "date_time", "date", "date_range", "days", "cny",
           "number", "quantity", "role_name", "role_names", "roles", "kind", "short_id", "party", "company",
           "company_code", "join", "NONE"]

_ = translator("common")
P_ = plural_translator("common")

BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
NONE = "—"  # an absent value in a table: no date, no name
DAY = 86_400

# Role names (ledger.chain.roles.Role member names) as a regulator calls them.
ROLE_LABELS = {
    "ADMIN": N_("administrator"), "VALIDATOR": N_("validator"), "KYC_AGENT": N_("KYC agent"),
    "PLATFORM": N_("platform"), "FUND_MANAGER": N_("fund manager"), "CUSTODIAN": N_("custodian"),
    "INVESTOR_AGENT": N_("investor agent"), "REGULATOR": N_("regulator"), "CASH_ISSUER": N_("cash issuer"),
    "FUTURES_EXCHANGE": N_("futures exchange"), "WAREHOUSE": N_("delivery warehouse"), "LENDER": N_("lender"),
    "TRADER": N_("trader"), "EQUITY_CENTER": N_("equity exchange center"), "LISTED_COMPANY": N_("listed company"),
    "DEPOSITORY": N_("depository"), "GOVERNANCE": N_("governance"),
}
# Kinds of party (ledger.supervision.rules.KIND_LABELS, a finding's who[].kind, the report's graphs).
KIND_LABELS = {k: k for k in (
    N_("natural person"), N_("institution"), N_("registered product"), N_("unregistered vehicle"),
    N_("unregistered identity"), N_("partnership"), N_("warehouse"), N_("company"), N_("fund"), N_("node"),
    N_("bank"), N_("trader"), N_("account"), N_("identity"), N_("member"), N_("receipt"), N_("document"))}
# Units a quantity may carry; "t" (tonnes) is the warehouses' unit.
UNITS = {u: u for u in (N_("t"), N_("kg"), N_("shares"), N_("receipts"), N_("lots"), N_("CNY"), N_("holders"),
                        N_("blocks"), N_("transactions"))}
COMMODITIES = {c: c for c in (N_("copper"), N_("aluminium"), N_("rubber"))}


def _chinese() -> bool:
    return current_language() == CHINESE


def date_time(unix: int | float | None, seconds: bool = False) -> str:
    """Beijing time, "2022-05-01 23:59" (":59" more with `seconds`); NONE for no time."""
    if unix is None:
        return NONE
    return dt.datetime.fromtimestamp(unix, BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def date(unix: int | float | None) -> str:
    """The Beijing-time date, "2022-05-01"."""
    return NONE if unix is None else dt.datetime.fromtimestamp(unix, BEIJING).strftime("%Y-%m-%d")


def date_range(first: int | float | None, last: int | float | None, with_time: bool = False) -> str:
    """"2022-05-01 – 2022-05-10"; one date when both fall on it; "since 2022-05-01" while still open (no last)."""
    show = date_time if with_time else date
    if first is None:
        return show(last) if last is not None else NONE
    if last is None:
        return _("since {date}").format(date=show(first))
    a, b = show(first), show(last)
    return a if a == b else f"{a} – {b}"


def number(n: int | float | Decimal) -> str:
    """Thousands separated; a non-integer with up to two decimals ("1,234.5")."""
    if isinstance(n, bool):
        return str(n)
    if isinstance(n, int) or (isinstance(n, (float, Decimal)) and n == int(n)):
        return f"{int(n):,}"
    return f"{n:,.2f}".rstrip("0").rstrip(".")


def days(seconds: int | float | None) -> str:
    """A duration in days ("10 days", "1 day", "2.5 days"); under a day in hours, under an hour in minutes."""
    if seconds is None:
        return NONE
    s = abs(seconds)
    if s >= DAY:
        n = s / DAY
        shown = number(round(n, 1))
        return P_("{n} day", "{n} days", 1 if shown == "1" else 2).format(n=shown)
    if s >= 3600:
        shown = number(round(s / 3600, 1))
        return P_("{n} hour", "{n} hours", 1 if shown == "1" else 2).format(n=shown)
    shown = number(round(s / 60))
    return P_("{n} minute", "{n} minutes", 1 if shown == "1" else 2).format(n=shown)


def cny(amount: int | float | Decimal | None) -> str:
    """Whole yuan with thousands separators and the unit: "1,000,000 CNY" / "1,000,000 元"."""
    if amount is None:
        return NONE
    return _("{amount} CNY").format(amount=number(amount))


def quantity(amount: int | float | Decimal | None, of: str) -> str:
    """An amount with its unit `of` ("50 t", "50 吨"); a unit not in UNITS is shown as given."""
    if amount is None:
        return NONE
    return _("{amount} {unit}").format(amount=number(amount), unit=unit(of))


def unit(name: str) -> str:
    """A unit's name in the reader's language ("t" -> 吨); one not in UNITS is shown as given."""
    return _(name) if name in UNITS else name


def commodity(name: str) -> str:
    """A commodity's name ("copper" -> 铜); one not known is shown as given."""
    return _(name) if name in COMMODITIES else name


def role_name(name: str) -> str:
    """One role's name ("FUND_MANAGER" -> "fund manager" / 基金管理人)."""
    return _(ROLE_LABELS[name]) if name in ROLE_LABELS else name.lower().replace("_", " ")


def role_names(mask: enum.IntFlag | int | Iterable[str], flags: type[enum.IntFlag] | None = None) -> list[str]:
    """The roles in `mask` (an IntFlag such as Role, or an int with `flags`, or role names) by name."""
    if isinstance(mask, enum.IntFlag):
        flags = type(mask)
    if isinstance(mask, int):
        if flags is None:
            raise TypeError("an int role mask needs its flags (ledger.chain.roles.Role)")
        names = [r.name for r in flags if r.value and mask & r.value == r.value and r.name]
    else:
        names = list(mask)
    return [role_name(n) for n in names]


def roles(mask: enum.IntFlag | int | Iterable[str], flags: type[enum.IntFlag] | None = None) -> str:
    """The roles as one text, "platform, validator" / "交易平台、验证者"; NONE for no role."""
    return join(role_names(mask, flags)) or NONE


def kind(label: str | None) -> str:
    """A kind of party ("natural person" -> 自然人); one not known is shown as given."""
    if not label:
        return NONE
    return _(label) if label in KIND_LABELS else label


def join(items: Iterable[str]) -> str:
    """A list as one text: "a, b" in English, "a、b" in Chinese."""
    return ("、" if _chinese() else ", ").join(items)


def short_id(value: str | None, full: bool = False, keep: int = 4) -> str:
    """A hex id as "0x1a2b…9f0e" (its first and last `keep` hex digits), or in full with `full`."""
    if not value:
        return NONE
    text = str(value)
    if full or not text.startswith("0x") or len(text) <= 2 + 2 * keep + 1:
        return text
    return f"{text[:2 + keep]}…{text[-keep:]}"


def party(value: str | None, name: str | None = None, full: bool = False) -> str:
    """An identity, account, warehouse or node: "Wang Wei (0x1a2b…9f0e)", or the id alone without a name."""
    shown = short_id(value, full)
    if not name:
        return shown
    return f"{name} ({shown})" if value else name


def company_code(value: str | None) -> str | None:
    """The code a company id (a NUL-padded bytes32, "0x4246…") holds, or None when it holds no printable text."""
    if not value or not str(value).startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(str(value)[2:]).rstrip(b"\0")
        text = raw.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if text and text.isprintable() else None


def company(value: str | None, name: str | None = None, full: bool = False) -> str:
    """A company by its code ("BJ-0001", or "Name (BJ-0001)"); with `full` the id too, to paste into a query;
    an id holding no code is shown as an id."""
    code = company_code(value)
    if code is None:
        return party(value, name, full)
    shown = f"{code} ({value})" if full else code
    return f"{name} ({shown})" if name and name != code else shown
