"""Keep session ids and tokens out of the logs.

A session id is the only key to a session, so a log line with `/ws?session=ID` would let
anyone who reads the log take the session over. Uvicorn writes the path with its query on
every HTTP request (uvicorn.access) and every websocket it accepts or refuses (uvicorn.error).
"""

import logging
import re

SECRET_PARAMS = ("session", "token")
REDACTED = "[redacted]"
_QUERY_VALUE = re.compile(rf"([?&](?:{'|'.join(SECRET_PARAMS)})=)[^&#\s\"']*", re.I)
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """`text` with the value of every session= and token= query parameter replaced."""
    return _QUERY_VALUE.sub(rf"\1{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments (uvicorn's formatters read the args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers (once), whoever configures their handlers."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
