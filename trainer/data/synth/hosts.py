"""Host names in the styles fleets use, never one the eval uses.

Names come from roles, sites and numbering schemes combined at random (web07, db-fra-2,
app12.prod, gpu-a100-03...), so the model learns that any inventory name goes into `host`,
not a list of names. Names the eval cases use are excluded (`exclude`), which a test enforces.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

ROLES = (
    "web", "db", "app", "cache", "lb", "api", "gpu", "node", "store", "mq", "build", "mon", "log",
    "k8s", "edge", "vpn", "mail", "ci", "backup", "dns", "proxy", "worker", "search", "kafka",
    "redis", "pg", "es", "nfs", "ceph", "hv", "bastion", "git", "vault", "etl", "ml", "ingest",
)  # fmt: skip
SITES = ("fra", "ams", "nyc", "sfo", "lon", "par", "sgp", "east", "west", "eu1", "us2", "dc3", "rack4")
ENVS = ("prod", "stg", "dev", "int", "lab")


@dataclass
class HostNames:
    exclude: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def excluding(cls, names: Iterable[str]) -> HostNames:
        return cls(frozenset(n.lower() for n in names))

    def pick(self, rng: random.Random) -> str:
        while True:
            name = self._make(rng)
            # "node30.prod" names node30 too: the short name must not be an eval host either.
            if name.lower() not in self.exclude and name.split(".")[0].lower() not in self.exclude:
                return name

    @staticmethod
    def _make(rng: random.Random) -> str:
        role = rng.choice(ROLES)
        # Short names (web7, db12) three times as often: most fleets and operators' asks use them.
        style = max(0, rng.randrange(8) - 2)
        n = rng.randint(1, 40)
        if style == 0:
            return f"{role}{n}"
        if style == 1:
            return f"{role}{n:02d}"
        if style == 2:
            return f"{role}-{rng.choice(SITES)}-{n}"
        if style == 3:
            return f"{role}{n:02d}.{rng.choice(ENVS)}"
        if style == 4:
            return f"{role}-{n:02d}"
        return f"{rng.choice(SITES)}-{role}{n}"
