"""Schemathesis against the server's own OpenAPI description: whatever it sends — as a student, as a
TA, with no token — the answer is never a server error."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from grader.server.app import Settings, create_app

EXAMPLES = 30  # per operation


def test_no_request_makes_the_server_fail(calibrated, roster, monkeypatch):
    monkeypatch.setenv("GRADE_NOW", "2022-02-20T10:00:00")
    app = create_app(calibrated.root, Settings(workers=0, rate=10_000, burst=10_000))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    seen = []

    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            for who in ("b01", "ta", None):  # the same generated request as a student, a TA, nobody
                headers = {"Authorization": f"Bearer {roster[who]}"} if who else {}
                response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
                seen.append(response.status_code)

        fuzz()
    assert seen and max(seen) < 500
