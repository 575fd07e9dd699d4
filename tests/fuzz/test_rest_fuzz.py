"""The REST endpoints fuzzed by schemathesis against /openapi.json: no server error, and every
answer matches the schema (status, content type, body), security headers included."""

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
    assert not LEAKS.search(response.text)
