"""gunicorn's settings for the web process, in one place for the Procfile and the benches
(`gunicorn -c python:smartmate.gunicorn_conf smartmate.asgi:application`).

Command-line flags still win, so the Procfile only adds the bind address and the access log.
"""

import os

worker_class = "uvicorn_worker.UvicornWorker"  # ASGI: the agent's SSE streams hold no thread
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
preload_app = True  # start-up checks (start_or_exit) run once, in the master, before forking
timeout = 120
graceful_timeout = 20

# How long an idle keep-alive connection stays open. The closing side must be the client (or
# the proxy in front), never the server: a request sent just as the server closes its idle
# connection gets a reset and is lost. gunicorn's default, 2 s, lost about 1 request in 400
# in bench/load.py, and behind nginx (upstream keepalive_timeout 60 s) or an AWS ALB (idle
# timeout 60 s) it would surface as sporadic 502s. 75 s outlasts both; idle connections are
# cheap under uvicorn (no thread each).
keepalive = int(os.environ.get("WEB_KEEPALIVE_SECONDS", "75"))
