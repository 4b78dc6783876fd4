"""Made-up Beijing people and firms for scenarios' investors and institutions.

Draw them from an investor's private stream, ctx.private_rng(label) (the seed and the operator
secret), so that a label is the same person wherever it appears and nobody who knows only the seed
can rebuild the data. Each function draws its values in a fixed order: a scenario that calls them
the same way gets the same people."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Sequence

from ledger.supervision import idnumbers

SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo".split()
GIVEN = "Wei Fang Na Min Jing Lei Qiang Jun Yang Yong Yan Jie Tao Ming Chao Xiu Hua Ping Gang Hui".split()
FIRMS = "Jinghua Yanshan Tongzhou Haidian Chaoyang Fengtai Shunyi Changping Daxing Huairou".split()


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}{rng.choice(GIVEN).lower()}"


def credit_code(rng: random.Random) -> str:
    """A Beijing unified social credit code (an organisation's registration number)."""
    return f"9111{rng.randrange(10**13, 10**14)}"


BEIJING_DISTRICTS = ("110101", "110102", "110105", "110106", "110107", "110108", "110111", "110112", "110113",
                     "110114", "110115")


def id_number(rng: random.Random) -> str:
    """A valid Beijing resident ID number (GB 11643-1999): district, birth date 1950-1999, sequence, check digit."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(50 * 365))
    return idnumbers.make(rng.choice(BEIJING_DISTRICTS), born, rng.randrange(1000))


def person(rng: random.Random) -> dict:
    """A natural person: name and Beijing resident ID number."""
    return {"name": person_name(rng), "id_number": id_number(rng)}


def organisation(rng: random.Random, kinds: Sequence[str]) -> dict:
    """A Beijing firm of one of `kinds` ("Holdings Co., Ltd."): name and credit code."""
    return {"name": f"Beijing {rng.choice(FIRMS)} {rng.choice(kinds)}", "credit_code": credit_code(rng)}


# One investment institution takes part in every market of `run scenario all` under one identity (its id
# derives from this label, scenarios.api.identity_of) and one unified account (ScenarioContext.unified_account):
# it invests in a private fund, subscribes in a regional equity offering and trades warehouse receipts, so
# that `query exposure` can follow it across the three markets.
CROSS_MARKET = "jinyu-capital"


def cross_market_institution(rng: random.Random) -> dict:
    """The cross-market institution's KYC record, the same in every market (draw from its private stream)."""
    return {"name": "Beijing Jinyu Capital Investment Co., Ltd.", "credit_code": credit_code(rng),
            "net_assets": 500_000_000}
