"""Schemathesis against the OpenAPI schema: whatever a client sends, no server error.

Generated requests (valid and invalid) go to every operation as the admin (who may call them
all), with paths, queries and bodies generated from the schema; the check is that the service
answers with a clean 4xx or a success, never a 5xx and never a stack trace.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service.api.conftest import World

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25


def test_no_server_error_whatever_is_sent(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25  # every router is in the schema
    headers = world.headers("admin")
    called: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            response = case.call(headers=headers)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (
                f"{where}: {response.status_code} {response.content!r}"
            )
            assert b"Traceback" not in response.content, where  # bytes: exports are binary

        no_server_error()
        called.append(operation.label)
    assert len(called) == len(operations)
