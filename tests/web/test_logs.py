"""Session ids and tokens are redacted from uvicorn's log lines, whatever formats them."""

import logging

import pytest
from uvicorn.logging import AccessFormatter, DefaultFormatter

from app.web import logs


@pytest.mark.parametrize(
    "text,expected",
    [
        ("/ws?session=abc_-123", "/ws?session=[redacted]"),
        ("/ws?x=1&token=s3cr3t&session=abc", "/ws?x=1&token=[redacted]&session=[redacted]"),
        ("/ws?Session=abc#frag", "/ws?Session=[redacted]#frag"),
        ('"WebSocket /ws?session=abc" [accepted]', '"WebSocket /ws?session=[redacted]" [accepted]'),
        ("/ws?sessions=2&tokenize=1", "/ws?sessions=2&tokenize=1"),  # other names stay
        ("/healthz", "/healthz"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert logs.redact(text) == expected


def record(name: str, msg: str, args: tuple) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_the_filter_rewrites_uvicorn_records_before_they_are_formatted() -> None:
    f = logs.RedactSecrets()
    access = record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/?session=id1", "1.1", 200))
    assert f.filter(access)
    assert AccessFormatter(use_colors=False).format(access).endswith('"GET /?session=[redacted] HTTP/1.1" 200')
    ws = record("uvicorn.error", '%s - "WebSocket %s" [accepted]', ("1.2.3.4:5", "/ws?session=id2"))
    assert f.filter(ws)
    assert "id2" not in DefaultFormatter(use_colors=False).format(ws)


def test_install_adds_the_filter_once() -> None:
    logs.install()
    logs.install()
    for name in logs.LOGGERS:
        assert sum(isinstance(f, logs.RedactSecrets) for f in logging.getLogger(name).filters) == 1
