"""Made-up Beijing people and firms for scenarios' investors and institutions.

Draw them from an investor's private stream, ctx.private_rng(label) (the seed and the operator
secret), so that a label is the same person wherever it appears and nobody who knows only the seed
can rebuild the data. Each function draws its values in a fixed order: a scenario that calls them
the same way gets the same people."""

from __future__ import annotations

import random
from typing import Sequence

SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo".split()
GIVEN = "Wei Fang Na Min Jing Lei Qiang Jun Yang Yong Yan Jie Tao Ming Chao Xiu Hua Ping Gang Hui".split()
FIRMS = "Jinghua Yanshan Tongzhou Haidian Chaoyang Fengtai Shunyi Changping Daxing Huairou".split()


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}{rng.choice(GIVEN).lower()}"


def credit_code(rng: random.Random) -> str:
    """A Beijing unified social credit code (an organisation's registration number)."""
    return f"9111{rng.randrange(10**13, 10**14)}"


def person(rng: random.Random) -> dict:
    """A natural person: name and Beijing resident ID number."""
    return {"name": person_name(rng), "id_number": f"1101{rng.randrange(10**13, 10**14)}"}


def organisation(rng: random.Random, kinds: Sequence[str]) -> dict:
    """A Beijing firm of one of `kinds` ("Holdings Co., Ltd."): name and credit code."""
    return {"name": f"Beijing {rng.choice(FIRMS)} {rng.choice(kinds)}", "credit_code": credit_code(rng)}
