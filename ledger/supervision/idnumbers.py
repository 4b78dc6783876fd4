"""Chinese resident ID numbers (公民身份号码, GB 11643-1999): normalising what KYC agents typed, and checking
the number's structure and its ISO 7064 MOD 11-2 check digit.

Two identities are the same person when their normalised numbers are equal, however the agent wrote
them: full-width characters, spaces or hyphens, a lower-case check digit x, or the 15-digit number of
the first-generation card (which the 18-digit number extends with the century and a check digit)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by the weighted sum mod 11
SHAPE_18 = re.compile(r"^[0-9]{17}[0-9X]$")
SHAPE_15 = re.compile(r"^[0-9]{15}$")
# The first two digits: a province-level division (GB/T 2260), or 81-83 for Hong Kong, Macao and Taiwan residents.
PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
                      "71 81 82 83".split())


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits."""
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def _birth_ok(yyyymmdd: str, on: date | None) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= (on or date.today())


def _plain(c: str) -> str:
    """A character as an agent meant it: any script's decimal digit as its ASCII digit, separators (spaces,
    dashes of every kind, invisible format characters) as nothing."""
    if c.isdecimal():
        return str(unicodedata.decimal(c))
    if c.isspace() or unicodedata.category(c) in ("Pd", "Cf", "Zs"):
        return ""
    return c


def normalise(text: str) -> str:
    """The number as an agent meant it: NFKC (full-width to ASCII), separators dropped, upper case, and a
    15-digit number extended to 18 digits (century 19, check digit computed). Not validated."""
    raw = "".join(_plain(c) for c in unicodedata.normalize("NFKC", str(text))).upper()
    if SHAPE_15.match(raw):
        first17 = raw[:6] + "19" + raw[6:]
        return first17 + check_digit(first17)
    return raw


def problem(text: str, on: date | None = None) -> str | None:
    """Why `text` is not a valid ID number on day `on` (default today; a birth date after it is invalid), or None
    when it is: shape, area code, birth date or check digit."""
    number = normalise(text)
    if not SHAPE_18.match(number):
        return "it is not 18 digits (the last may be X), nor 15 digits"
    if number[:2] not in PROVINCES:
        return "its area code is not a Chinese administrative division"
    if not _birth_ok(number[6:14], on):
        return "its birth date is not a valid date"
    if check_digit(number[:17]) != number[17]:
        return "its check digit does not match"
    return None


def make(area: str, born: date, sequence: int) -> str:
    """A valid 18-digit number for `area` (6 digits), birth date and 3-digit sequence (odd for men)."""
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)
