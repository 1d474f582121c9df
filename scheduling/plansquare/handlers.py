"""Outbox events of the plan square (docs/DOMAIN.md §10).

The rewards leave as `plan_square.liked` / `plan_square.imported` on topic
`smartmate.plansquare`, keyed per post. Nothing in SmartMate pays them yet: until the credits
consumer (in accounts) registers its handler for them, they are publish-only and are settled as
consumed once published. The PostReward rows keep what was owed either way.
"""

from outbox.registry import publish_only
from scheduling.plansquare.services import IMPORTED, LIKED

publish_only(LIKED, IMPORTED, service="plansquare")
