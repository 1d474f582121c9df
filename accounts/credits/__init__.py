"""Credits (docs/DOMAIN.md §9): a per-user balance that moves only by appending to a ledger.

Students earn credits when their shared plans are liked or imported (outbox events paid by
`handlers.py`), staff grant or take them back in the admin, and every model call beyond the
weekly free allowance (accounts/quota.py) spends them (`services.llm_call_reserve` before the
call, `services.llm_call_settle` after it).
"""
