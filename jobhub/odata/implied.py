"""What a job listing's ``$filter`` means by what it leaves unsaid.

Housekeeping jobs (jobhub's own upkeep: purging, reaping, the outbox) are many and
rarely wanted, so a filter that does not mention the ``housekeeping`` field leaves them
out: ``housekeeping eq false`` is implied. Mentioning it anywhere decides instead:
``housekeeping eq true`` lists only them, ``housekeeping eq true or housekeeping eq false``
lists every job.
"""

from __future__ import annotations

from jobhub.odata.nodes import And, Comparison, Node, mentions

HOUSEKEEPING = "housekeeping"
NO_HOUSEKEEPING = Comparison(field=HOUSEKEEPING, op="eq", value=False)
"""The condition implied when a filter does not mention ``housekeeping``."""


def implied_filter(node: Node | None) -> Node:
    """The filter a listing applies for ``node`` (None: no ``$filter`` given)."""
    if node is None:
        return NO_HOUSEKEEPING
    if mentions(node, HOUSEKEEPING):
        return node
    return And(operands=(node, NO_HOUSEKEEPING))
