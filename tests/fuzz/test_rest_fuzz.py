"""The REST endpoints fuzzed by schemathesis against /openapi.json: no server error, and every
answer matches the schema (status, content type, body), security headers included."""

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.web.main import create_app
from app.web.settings import Settings
from tests.web.test_security import LEAKS

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_rest_endpoints_hold_to_their_schema(case: Any) -> None:
    # a schema-valid body may still be an invalid scenario, CSV or room request: those answer 4xx by design
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500
    assert response.headers["x-content-type-options"] == ["nosniff"]
    assert not LEAKS.search(without_echoes(response.text, case)), response.text


def without_echoes(text: str, case: Any) -> str:
    """The answer without the request's own strings (an error names the value it refuses, and a
    drawn name such as "a.py" is the client's, not a leak), however the answer quoted them."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            found.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    for part in (case.path_parameters, case.query, case.body):
        walk(part)
    for v in sorted(filter(None, found), key=len, reverse=True):
        for quoted in (v, repr(v)[1:-1], json.dumps(v)[1:-1], json.dumps(repr(v))[2:-2]):
            text = text.replace(quoted, "")
    return text


def test_only_the_clients_own_strings_are_taken_out() -> None:
    class Case:
        path_parameters = {"name": "a.py"}
        query: dict[str, Any] = {}
        body = {"preset": "x/tmp/y"}

    echoed = "{\"detail\":\"no preset 'a.py'; preset: no preset 'x/tmp/y'\"}"
    assert not LEAKS.search(without_echoes(echoed, Case()))
    leaked = echoed[:-2] + ' at /usr/lib/python3/app.py"}'
    assert LEAKS.search(without_echoes(leaked, Case()))
