"""schemathesis against the local stack: generated requests for every operation of /openapi.json.

Bounded (a few examples per operation) so it fits in `make test`; what it checks is that no input
produces a 5xx and that every response (status, content type, headers, body) is what the spec
declares. Each operation runs as its own Hypothesis test, and every failure is reported at the end.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25
# "A schema-valid request must be accepted" holds only when the spec states every rule the API
# enforces (required fields, non-empty strings, one of audio_file/audio_url/audio_path). The spec does
# not state them all yet, so the API's 400s for such requests are not failures here; every other
# default check (no 5xx, documented statuses, content types, headers and bodies) is.
EXCLUDED_CHECKS = [positive_data_acceptance]


def test_every_operation_answers_as_documented(local_stack):
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [operation.label for operation in operations]
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def exercise(case):
            case.call_and_validate(base_url=local_stack.api_url, headers={"Authorization": local_stack.api_key},
                                   excluded_checks=EXCLUDED_CHECKS, timeout=60)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - report every operation's failure
            failures[operation.label] = f"{type(failure).__name__}: {failure}"
    assert not failures, f"{len(failures)} of {len(operations)} operations failed:\n\n" + "\n\n".join(
        f"{label}\n{text}" for label, text in failures.items())
