"""The template `python cli.py scenario new NAME` writes: a small working scenario, written only
against the public scenario API (scenarios.api) and the ledger's public pieces, with one violation
planted for the chain and one for the regulator."""

from __future__ import annotations

from string import Template

TEMPLATE = Template('''\
"""$name: a scenario of your own, written by `python cli.py scenario new $name`.

Run it with:   python cli.py run scenario $name --scenarios-dir $dir_hint
Everything here uses the public scenario API (scenarios.api): a Scenario subclass
with a `name`, a `title`, its `options` and a `run(ctx)` method.
"""

from eth_hash.auto import keccak

from ledger.trust.privacy import data_hash
from ledger.chain.roles import Role
from scenarios.api import Option, Scenario, ScenarioContext

GENESIS_TIME = 1700000000  # the first block's timestamp (seconds since 1970)
CHAIN_ID = 31337
PERSON = 1  # IdentityRegistry.Kind: 1 natural person, 2 institution, 3 product, 4 vehicle
TWO_YEARS = 2 * 365 * 86400


class $class_name(Scenario):
    # The name you give `run scenario`; it must not clash with a built-in scenario.
    name = "$name"
    title = "My first scenario: identities on a permissioned chain, one refusal, one case for the regulator"
    # Each Option becomes a command-line flag: --investors N (default 3, at least 1).
    options = (Option("investors", 3, "identities the KYC agent registers", 1),)

    @classmethod
    def expected_steps(cls, options):
        return 3  # how many times run() calls ctx.progress(), for the progress bar

    def run(self, ctx: ScenarioContext) -> None:
        # 1. A chain of our own: a consortium with its CA, engine and store, under the run directory.
        chain = ctx.open_chain("my_chain", CHAIN_ID, GENESIS_TIME, "My Consortium CA")

        # 2. Nodes, each with its role flags. The gateway checks these roles on every call.
        operator = chain.add_node("OPERATOR", "Platform Operator", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR)
        regulator = chain.add_node("REGULATOR", "The Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        kyc = chain.add_node("KYC-AGENT", "Licensed KYC Agent", Role.KYC_AGENT | Role.INVESTOR_AGENT)
        broker = chain.add_node("BROKER", "Broker without a KYC licence", Role.INVESTOR_AGENT)
        chain.store.write_meta(chain.genesis_meta())  # genesis: who the founding members are

        # 3. Contracts, from the committed artifacts: the permission registry knows the founding
        # members and their roles; the identity registry asks it who may register identities.
        registry = operator.deploy("PermissionRegistry", *chain.founding_members()).contract_address
        operator.deploy("IdentityRegistry", registry)
        chain.commit()
        identities = chain.contract("IdentityRegistry")
        ctx.progress()

        # 4. Ordinary business: the KYC agent registers identities. Personal data stays off chain,
        # sealed in the agent's private store (readable by the agent and the regulator);
        # only a salted hash goes on chain. The personal data and the salt come from ctx.private_rng
        # and ctx.salt (the seed and the operator secret), never from the seed alone: anyone may know
        # the seed, and could then rebuild the data or try ID numbers against the hash.
        people = []
        for i in range(ctx.options["investors"]):
            person = {"name": f"Investor {i + 1}",
                      "id_number": f"ID-{ctx.private_rng(str(i)).randrange(10**8, 10**9)}"}
            identity = keccak(f"identity/{ctx.seed}/{i}".encode())  # public on chain: the seed is enough
            salt = ctx.salt(str(i))
            ctx.private_store(chain, kyc, regulator).put(identity, salt, person)
            ticket = kyc.send(identities.call("registerIdentity", identity, data_hash(salt, person), PERSON,
                                              GENESIS_TIME + TWO_YEARS))
            people.append((identity, person, ticket))
        chain.commit()
        ctx.progress()

        # 5. Planted for the chain: the broker has no KYC_AGENT role, so the gateway must refuse its
        # registration with ROLE_MISSING. ctx.plant records it as ground truth; the run's summary
        # counts it as caught only if the chain refused it with exactly that reason.
        rogue = keccak(f"identity/{ctx.seed}/unlicensed".encode())
        ticket = broker.send(identities.call("registerIdentity", rogue, keccak(b"no kyc done"), PERSON,
                                             GENESIS_TIME + TWO_YEARS))
        ctx.plant("unlicensed_kyc", "ROLE_MISSING", ticket,
                  "a broker without the KYC_AGENT role registers an identity", identity="0x" + rogue.hex())

        # 6. Planted for the regulator: the same person registered twice under two identities.
        # The chain cannot see it (it only holds hashes); the regulator, who can open the
        # agent's private store, can. ctx.plant_for_regulator records it as ground truth.
        first, person, _ = people[0]
        twin = keccak(f"identity/{ctx.seed}/twin".encode())
        salt = ctx.salt("twin")
        twin_person = dict(person, name=person["name"].upper())
        ctx.private_store(chain, kyc, regulator).put(twin, salt, twin_person)
        kyc.send(identities.call("registerIdentity", twin, data_hash(salt, twin_person), PERSON,
                                 GENESIS_TIME + TWO_YEARS))
        chain.commit()
        ctx.plant_for_regulator("split_identity", "one person registered as two identities (same ID number)",
                                identities=["0x" + first.hex(), "0x" + twin.hex()], id_number=person["id_number"])

        # 7. Figures of your own go into the run's summary (names must not clash with the runner's).
        ctx.extra["identities_registered"] = len(people) + 1
        ctx.progress()
''')


def render(name: str, dir_hint: str = "my_scenarios") -> str:
    """The source of a new scenario file for scenario `name`."""
    class_name = "".join(part.capitalize() for part in name.split("_") if part) or "MyScenario"
    if not class_name[0].isalpha():
        class_name = "Scenario" + class_name
    return TEMPLATE.substitute(name=name, class_name=class_name, dir_hint=dir_hint)
