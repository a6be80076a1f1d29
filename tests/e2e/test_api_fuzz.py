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
# The document states what each operation requires (required fields, non-blank text, exactly one of
# audio_file/audio_url/audio_path), so "a schema-valid request is accepted" holds everywhere except where
# a rule cannot be said in OpenAPI. There, a schema-valid request may get a 400, but only for that rule:
# each entry lists the error codes (kie.ai's envelope has none: the start of its msg) such a 400 may carry.
URL_RULE_CODES = {"INVALID_AUDIO_URL", "INVALID_WEBHOOK_URL", "FOREIGN_BUCKET", "INVALID_AUDIO_PATH"}
UNSTATABLE_RULES = {
    # One of two optional query parameters must be given: a schema cannot tie parameters together.
    "GET /v1/byId": {"MISSING_PARAMETER"},
    # URLs must resolve (DNS, at request time) to an address this deployment allows; audio_path must be
    # in this deployment's bucket, whose name the checked-in document cannot know.
    # …and minimum_frequency must be below maximum_frequency: a schema cannot compare two values.
    "POST /v1/audio_to_midi": URL_RULE_CODES | {"INVALID_OPTIONS"},
    "POST /v1/file_convert": URL_RULE_CODES,
    "POST /api/v1/midi/generate": {"callBackUrl is refused"},
    # A cursor must be one the API gave out: the document can state its alphabet, not its contents.
    "GET /v1/tasks": {"INVALID_CURSOR"},
}


def refused_for(body: dict) -> str:
    """What a 400 names as its reason: the error code, or the start of kie.ai's msg."""
    return body.get("code") if isinstance(body.get("code"), str) else str(body.get("msg", ""))


def exercise(operation, stack) -> None:
    """Run one operation's generated cases; raises what schemathesis (or the rule check) finds."""
    unstatable = UNSTATABLE_RULES.get(operation.label)
    excluded = [positive_data_acceptance] if unstatable else []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case):
        response = case.call(base_url=stack.api_url, headers={"Authorization": stack.api_key}, timeout=60)
        case.validate_response(response, excluded_checks=excluded)
        if unstatable and response.status_code == 400:
            reason = refused_for(response.json())
            assert any(reason.startswith(allowed) for allowed in unstatable), (
                f"a schema-valid request was refused for a rule the document could state: {response.text}"
            )

    run()


def test_every_operation_answers_as_documented(local_stack):
    schema = schemathesis.openapi.from_url(f"{local_stack.api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [operation.label for operation in operations]
    labels = {operation.label for operation in operations}
    assert set(UNSTATABLE_RULES) <= labels, "a rule names an operation the API no longer has"
    failures: dict[str, str] = {}
    for operation in operations:
        try:
            exercise(operation, local_stack)
        except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - report every operation's failure
            failures[operation.label] = f"{type(failure).__name__}: {failure}"
    assert not failures, f"{len(failures)} of {len(operations)} operations failed:\n\n" + "\n\n".join(
        f"{label}\n{text}" for label, text in failures.items())
