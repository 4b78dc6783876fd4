"""The template `python cli.py scenario new NAME` writes: a small working scenario that imports
nothing but the public scenario API (scenarios.api), with one violation planted for the chain and
one for the regulator."""

from __future__ import annotations

from string import Template

TEMPLATE = Template('''\
"""$name: a scenario of your own, written by `python cli.py scenario new $name`.

Run it with:   python cli.py run scenario $name --scenarios-dir $dir_hint
Everything here comes from one module, the public scenario API (scenarios.api): a Scenario
subclass with a `name`, a `title`, its `options` and a `run(ctx)` method.
"""

from scenarios.api import IdentityKind, Option, Role, Scenario, ScenarioContext, id_number, identity_of

GENESIS_TIME = 1700000000  # the first block's timestamp (seconds since 1970)
CHAIN_ID = 31337
TWO_YEARS = 2 * 365 * 86400


class $class_name(Scenario):
    # The name you give `run scenario`; it must not clash with a built-in scenario.
    name = "$name"
    title = "My first scenario: identities on a permissioned chain, one refusal, one case for the regulator"
    # Each Option becomes a command-line flag: --investors N (default 3, at least 1, at most 1,000).
    options = (Option("investors", 3, "identities the KYC agent registers", 1, maximum=1_000),)

    @classmethod
    def expected_steps(cls, options):
        return 7  # the blocks run() commits: the progress bar moves one step per block

    def run(self, ctx: ScenarioContext) -> None:
        # 1. A chain of our own: a consortium with its CA, engine and store, under the run directory.
        chain = ctx.open_chain("my_chain", CHAIN_ID, GENESIS_TIME, "My Consortium CA")

        # 2. Nodes, each with its role flags. The gateway checks these roles on every call. The chain's
        # genesis record (who the founding members are) is written when its first block commits.
        operator = chain.add_node("OPERATOR", "Platform Operator", Role.ADMIN | Role.PLATFORM | Role.VALIDATOR)
        regulator = chain.add_node("REGULATOR", "The Regulator", Role.ADMIN | Role.REGULATOR | Role.VALIDATOR)
        kyc = chain.add_node("KYC-AGENT", "Licensed KYC Agent", Role.KYC_AGENT | Role.INVESTOR_AGENT)
        broker = chain.add_node("BROKER", "Broker without a KYC licence", Role.INVESTOR_AGENT)

        # 3. Contracts, from the committed artifacts: the permission registry knows the founding members
        # and their roles; the identity registry asks it who may call what. A deployed contract's
        # functions are closed until governance maps them to roles, as the contract itself declares.
        registry = ctx.deploy(operator, "PermissionRegistry", *chain.founding_members())
        identities = ctx.deploy(operator, "IdentityRegistry", registry.address)
        ctx.adopt_roles(chain)

        # 4. Ordinary business: the KYC agent registers identities. ctx.kyc seals the personal data in the
        # agent's private store (readable by the agent and the regulator) and puts only a salted hash on
        # chain; the data comes from ctx.private_rng (the seed and the operator secret), never from the
        # seed alone: anyone may know the seed. Contract functions are attributes, checked against the
        # contract's ABI when called (a typo or a missing argument is an error on this line).
        desk = ctx.kyc(chain, identities, regulator)
        people = []
        for i in range(ctx.options["investors"]):
            person = {"name": f"Investor {i + 1}",
                      "id_number": id_number(ctx.private_rng(str(i)))}
            identity = identity_of(ctx.seed, str(i))  # public on chain: the seed is enough
            desk.register(kyc, str(i), identity, IdentityKind.PERSON, person, GENESIS_TIME + TWO_YEARS)
            people.append((identity, person))
        chain.commit()  # every call expected to succeed is checked here: a refusal stops the run

        # Views read the head state at once; a struct comes back as a named record.
        walk = identities.lookThrough(people[0][0], 4, True)
        assert walk.failure == 0 and walk.units == 1, walk

        # 5. A business check: registering the same identity again must fail with the registry's own
        # error. ctx.expect_revert says so (it is not counted as an unexpected refusal).
        ctx.expect_revert(kyc.send(identities.registerIdentity(people[0][0], bytes(32), IdentityKind.PERSON, 0)),
                          "IdentityExists")
        chain.commit()

        # 6. Planted for the chain: the broker has no KYC_AGENT role, so the gateway must refuse its
        # registration with ROLE_MISSING. ctx.plant records it as ground truth; the run's summary
        # counts it as caught only if the chain refused it with exactly that reason.
        rogue = identity_of(ctx.seed, "unlicensed")
        ticket = broker.send(identities.registerIdentity(rogue, identity_of(ctx.seed, "no kyc done"),
                                                         IdentityKind.PERSON, GENESIS_TIME + TWO_YEARS))
        ctx.plant("unlicensed_kyc", "ROLE_MISSING", ticket,
                  "a broker without the KYC_AGENT role registers an identity", identity="0x" + rogue.hex())

        # 7. Planted for the regulator: the same person registered twice under two identities.
        # The chain cannot see it (it only holds hashes); the regulator, who can open the
        # agent's private store, can. ctx.plant_for_regulator records it as ground truth.
        first, person = people[0]
        twin = identity_of(ctx.seed, "twin")
        desk.register(kyc, "twin", twin, IdentityKind.PERSON, dict(person, name=person["name"].upper()),
                      GENESIS_TIME + TWO_YEARS)
        chain.commit()
        ctx.plant_for_regulator("split_identity", "one person registered as two identities (same ID number)",
                                identities=["0x" + first.hex(), "0x" + twin.hex()], labels=["0", "twin"])

        # 8. Figures of your own go into the run's summary (names must not clash with the runner's).
        ctx.extra["identities_registered"] = len(people) + 1
''')


def render(name: str, dir_hint: str = "my_scenarios") -> str:
    """The source of a new scenario file for scenario `name`."""
    class_name = "".join(part.capitalize() for part in name.split("_") if part) or "MyScenario"
    if not class_name[0].isalpha():
        class_name = "Scenario" + class_name
    return TEMPLATE.substitute(name=name, class_name=class_name, dir_hint=dir_hint)
