"""gunicorn's settings for foerderdesk: ``gunicorn -c deploy/gunicorn.conf.py webui.wsgi:app``.

Each value can be changed from the environment (the systemd unit reads them from the same
env file as the app), so a city tunes the workers without editing this file.
"""

from __future__ import annotations

import os

# Behind the reverse proxy on the same host: nothing else should reach gunicorn directly.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# A search and its page are CPU work, mostly Python under the GIL: processes, not threads,
# use the cores.
# Every worker keeps its own search index in memory, hence the cap: a small VM must not
# start a dozen copies.
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8)))
# Sync workers answer one request at a time and are not meant to face slow clients: the
# proxy in front buffers requests and responses (deploy/nginx.conf.example).
worker_class = "sync"

# Each worker builds its own app: database connections and the search index must not be
# shared across fork, so the app is not loaded before forking.
preload_app = False

# The proxy sets X-Forwarded-Proto; trust it from the proxy's address only. (The app's own
# ProxyFix, FOERDERDESK_PROXY_COUNT, handles X-Forwarded-For and -Host.)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# A worker silent for this long is stuck: gunicorn kills and replaces it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On SIGTERM (systemctl stop, a restart) workers finish the requests in flight first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))

# Replace each worker after a while, so a slow leak never grows; the jitter keeps the
# workers from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))

# Logs to stdout/stderr, which journald keeps (journalctl -u foerderdesk-web).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The worker that answered (<pid>), then the reader's address as the proxy reports it (not
# the proxy's own), the request, status, size and seconds taken.
access_log_format = '%(p)s %({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss'

# The workers' heartbeat files in memory rather than on a disk that may stall them.
_MEMORY = "/dev/shm"  # noqa: S108  (a folder for gunicorn's own files, not a temp file)
worker_tmp_dir = _MEMORY if os.path.isdir(_MEMORY) else None
