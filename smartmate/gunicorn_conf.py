"""gunicorn's settings for the web process, in one place for the Procfile and the benches
(`gunicorn -c python:smartmate.gunicorn_conf smartmate.asgi:application`).

Command-line flags still win, so the Procfile only adds the bind address and the access log.
"""

import os
from pathlib import Path

import environ

# ASGI workers: the agent's SSE streams hold no thread. Every other request goes on to Django's
# WSGI handler in a pool of WEB_THREADS threads per worker (smartmate/serving.py, read by
# smartmate/asgi.py), so it costs what it costs under WSGI.
worker_class = "uvicorn_worker.UvicornWorker"
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

# Whose X-Forwarded-For / -Proto the server believes: the same TRUSTED_PROXIES as the app's
# throttles (smartmate/settings.py, read the same way: the environment, then .env), none by
# default. gunicorn's and uvicorn's own default, 127.0.0.1, would let any local process (or a
# proxy that passes the header on unchecked) choose the client address login throttling keys on.
_dotenv = Path(__file__).resolve().parent.parent / ".env"
if _dotenv.is_file():
    environ.Env.read_env(_dotenv, overwrite=False)
forwarded_allow_ips = ",".join(environ.Env().list("TRUSTED_PROXIES", default=[]))
