"""Keys and secrets: the operator secret and the key deriver, node keystores, the consortium CA and certificates, and
each node's private records (sealed personal data the regulator can open)."""
