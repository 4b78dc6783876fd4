"""Penetrating supervision (穿透式监管): the supervision rules in Python (rules), the look-through index and its queries
(lookthrough) and the risk monitor that raises alerts as blocks are committed."""
