"""The PostgreSQL engine (`ENGINE = "smartmate.db"`): Django's, plus a client-side query deadline.

See `deadline.py` for why PostgreSQL's own `statement_timeout` is not enough.
"""
