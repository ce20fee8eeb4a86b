"""gunicorn settings for every web process (``make run`` and docker-compose): gunicorn reads
``./gunicorn.conf.py`` from the working directory by itself.

Its error and access logs use the same structured format as Django, the worker and beat
(backend/log.py). The access line holds method, path (never the query string, which can carry
a patient's name from a search), status, size and time; the request id is taken from the
response's ``X-Request-ID`` header, so it matches the request's other lines, 500s included.
"""

import os

from backend.log import logging_config

logconfig_dict = logging_config(
    os.environ.get("LOG_LEVEL", "INFO"), os.environ.get("LOG_FORMAT", "logfmt")
)
access_log_format = "%(m)s %(U)s %(s)s %(B)sB %(M)sms"
