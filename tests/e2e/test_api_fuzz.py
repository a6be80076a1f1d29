"""schemathesis against the local stack: generated requests for every operation of /openapi.json.

Bounded (a few examples per operation) so it fits in `make test`; what it checks is that no input
produces a 5xx and that every response (status, content type, headers, body) is what the spec
declares. Each operation runs as its own Hypothesis test, and every failure is reported at the end.
Our own generators (below) add what a schema-driven fuzzer does not send.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

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
    # …and stems: names unique (ignoring case), a stem.<name>.instrument only beside its stem.<name> part,
    # at most 8 in all (the list's bound cannot count the parts too), a form's stems must be JSON text, and
    # a stem.<name> part must be sent as a file: OpenAPI's encoding (which says so of audio_file) is keyed by
    # property name, so the patternProperties the parts are documented by cannot carry it (INVALID_MULTIPART).
    "POST /v1/audio_to_midi": URL_RULE_CODES | {"INVALID_OPTIONS", "DUPLICATE_STEM", "INVALID_STEMS",
                                                "TOO_MANY_STEMS", "INVALID_MULTIPART"},
    "POST /v1/file_convert": URL_RULE_CODES,
    "POST /api/v1/midi/generate": {"callBackUrl is refused"},
    # A cursor must be one the API gave out: the document can state its alphabet, not its contents.
    "GET /v1/tasks": {"INVALID_CURSOR"},
}
# MusicGPT's own paths for three routes run the same operations, so the same rules hold there.
UNSTATABLE_RULES |= {label.replace(" /v1/", " /api/public/v1/"): codes for label, codes in UNSTATABLE_RULES.items()
                     if label.split(" ")[1] in ("/v1/audio_to_midi", "/v1/file_convert", "/v1/byId")}


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
        if case.headers and case.headers.get("Idempotency-Key"):
            # Reusing a key for another request is refused (422) by design, a rule no schema can state:
            # each case gets a key of its own, still of the generated shape.
            case.headers["Idempotency-Key"] = f"{case.headers['Idempotency-Key'][:200]}-{uuid.uuid4()}"
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


# ------------------------------------------------------------------------------------------------------
# Our own generators: what a schema-driven fuzzer does not send. Deep, large and odd bodies (nesting past
# any limit, lone surrogates, numbers JSON cannot hold, names sent twice, hundreds of fields, megabytes of
# text, malformed multipart, audio headers declaring absurd rates and lengths) and odd query strings, on
# every route that reads a body or parameters. Whatever comes in: no 5xx, and every answer is the error
# envelope (kie.ai's own on its routes) or a documented success.

ODD_EXAMPLES_PER_ROUTE = 60
BODY_ROUTES = ["/v1/audio_to_midi", "/v1/file_convert", "/v1/uploads", "/api/v1/midi/generate",
               "/v1/tasks/00000000-0000-4000-8000-000000000000/webhook/redeliver"]
QUERY_ROUTES = ["/v1/byId", "/api/v1/midi/record-info", "/v1/files/00000000-0000-4000-8000-000000000000/midi"]
# A request each route accepts, and the fields it knows: "plausible" requests start from these.
ROUTE_BASES = {
    "/v1/audio_to_midi": ({"audio_url": "http://127.0.0.1:9/x.wav"},
                          ["sonify_midi", "onset_threshold", "midi_tempo", "minimum_frequency", "webhook_url"]),
    "/v1/file_convert": ({"audio_url": "http://127.0.0.1:9/x.wav"},
                         ["target_format", "target_sr", "target_bit_depth", "webhook_url"]),
    "/v1/uploads": ({"filename": "a.wav"}, ["filename", "content_type"]),
    "/api/v1/midi/generate": ({"taskId": "t", "callBackUrl": "http://127.0.0.1:9/cb"}, ["taskId", "callBackUrl"]),
}
FIELD_NAMES = ["audio_url", "audio_path", "webhook_url", "audio_file", "sonify_midi", "onset_threshold",
               "midi_tempo", "target_format", "target_sr", "target_bit_depth", "filename", "content_type",
               "taskId", "callBackUrl", "minimum_frequency"]


def _odd_text():
    from hypothesis import strategies as st

    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "s3://x/../../etc", "uploads/key_x/a/b.wav", "NaN",
                         "http://127.0.0.1:9/a.wav", "True", "1e999", "-0", "🎵" * 3]),
        st.integers(min_value=1, max_value=200_000).map(lambda n: "a" * n),
    )


def _json_value(depth: int):
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=depth)


def _raw_json_body(route: str):
    """JSON text as bytes, including what json.dumps never writes (lone surrogate escapes, NaN, duplicates)."""
    from hypothesis import strategies as st

    def encoded(value) -> bytes:
        return json.dumps(value).encode()

    fields = st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12)),
                             st.one_of(_odd_text(), _json_value(12)), max_size=8)
    # Mostly well-formed: a source every route can take, plus known fields holding odd values.
    base, known = ROUTE_BASES.get(route, ({}, FIELD_NAMES))
    plausible = st.dictionaries(st.sampled_from(known), st.one_of(_odd_text(), _json_value(3)), max_size=2).map(
        lambda extra: {**base, **extra})
    return st.one_of(
        plausible.map(encoded),
        fields.map(encoded),
        st.integers(min_value=1, max_value=50_000).map(lambda d: b'{"audio_path": ' + b"[" * d + b"]" * d + b"}"),
        st.integers(min_value=60, max_value=5000).map(
            lambda n: encoded({f"field_{i}": "x" for i in range(n)})),
        st.tuples(st.sampled_from(FIELD_NAMES), _odd_text()).map(
            lambda pair: ("{" + json.dumps(pair[0]) + ": " + json.dumps(pair[1][:100]) + ", "
                          + json.dumps(pair[0]) + ': "again"}').encode()),
        st.sampled_from([b'{"onset_threshold": NaN}', b'{"midi_tempo": Infinity}', b'{"a": 1e99999}',
                         b'{"audio_url": "\\ud800"}', b"[]", b'"text"', b"null", b"{", b'{"a": 1}}',
                         b"\xff\xfe{}", b'{"taskId": 1' + b"0" * 5000 + b"}"]),
        st.binary(max_size=300),
    )


def _audio_header():
    """A few hundred bytes of WAV or FLAC header declaring any rate, channels and length."""
    import struct

    from hypothesis import strategies as st

    def wav(rate: int, channels: int, frames: int) -> bytes:
        block = max(channels, 1) * 2
        size = min(frames * block, 0xFFFFFFFF)
        fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, 16)
        return b"RIFF" + struct.pack("<I", (36 + size) & 0xFFFFFFFF) + b"WAVEfmt " + fmt + b"data" + \
            struct.pack("<I", size) + bytes(400)

    def flac(rate: int, channels: int, frames: int) -> bytes:
        packed = (rate & 0xFFFFF) << 44 | ((channels - 1) & 7) << 41 | 15 << 36 | (frames & ((1 << 36) - 1))
        return b"fLaC\x80\x00\x00\x22" + bytes(10) + packed.to_bytes(8, "big") + bytes(16) + bytes(400)

    numbers = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 2**40))
    return st.one_of(numbers.map(lambda n: wav(*n)),
                     numbers.map(lambda n: flac(max(n[0] & 0xFFFFF, 1), max(min(n[1], 8), 1), n[2])))


def _multipart_body(route: str):
    """(body, content type): well-formed parts with odd contents, and malformed multipart."""
    from hypothesis import strategies as st

    def build(parts, boundary: str) -> tuple[bytes, str]:
        chunks = []
        for name, filename, content in parts:
            disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
            chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("utf-8", "replace")
                          + content + b"\r\n")
        return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

    content = st.one_of(st.binary(max_size=200), _audio_header(), _odd_text().map(
        lambda text: text.encode("utf-8", "surrogatepass")))
    part = st.tuples(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)),
                     st.one_of(st.none(), st.text(max_size=20)), content)
    boundary = st.text(alphabet="abcdefXYZ0123456789-", min_size=1, max_size=40)
    well_formed = st.tuples(st.lists(part, max_size=6), boundary).map(lambda pair: build(*pair))
    # Mostly well-formed: an audio header as audio_file, with a few known fields holding odd values.
    known = ROUTE_BASES.get(route, ({}, FIELD_NAMES))[1]
    plausible = st.tuples(_audio_header(), st.dictionaries(st.sampled_from(known), _odd_text(), max_size=2),
                          boundary).map(lambda args: build(
                              [("audio_file", "take.wav", args[0]),
                               *((name, None, value.encode("utf-8", "surrogatepass")) for name, value in args[1].items())],
                              args[2]))
    many = st.integers(65, 400).map(lambda n: build([(f"f{i}", None, b"x") for i in range(n)], "b"))
    twice = _audio_header().map(lambda data: build([("audio_file", "a.wav", data), ("audio_file", "b.wav", data)], "b"))
    broken = st.tuples(st.binary(max_size=300), boundary).map(
        lambda pair: (pair[0], f"multipart/form-data; boundary={pair[1]}"))
    no_boundary = st.binary(max_size=100).map(lambda data: (data, "multipart/form-data"))
    return st.one_of(plausible, plausible, well_formed, many, twice, broken, no_boundary)


def _request(route: str):
    """(method, path, headers, body) for one odd request to ``route``."""
    from hypothesis import strategies as st

    if route in QUERY_ROUTES:
        names = st.sampled_from(["task_id", "conversion_id", "conversionType", "taskId", "expires", "signature", "x"])
        odd = st.lists(st.tuples(names, _odd_text().map(lambda text: text[:5000])), max_size=5)
        # Mostly well-formed: every parameter a route takes, some of them odd.
        plausible = st.tuples(st.integers(0, 10**12), st.text(max_size=50), odd).map(lambda args: [
            ("task_id", "00000000-0000-4000-8000-000000000000"), ("taskId", "t"), ("expires", str(args[0])),
            ("signature", args[1]), ("conversionType", "AUDIO_TO_MIDI"), *args[2]][: 5 + len(args[2])])
        query = st.one_of(plausible, odd)
        return query.map(lambda pairs: ("GET", route + "?" + urlencode(
            [(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs]), {}, b""))
    json_body = _raw_json_body(route).map(lambda body: (body, "application/json"))
    form_body = st.one_of(
        st.dictionaries(st.sampled_from(FIELD_NAMES), _odd_text(), max_size=6).map(
            lambda fields: urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in fields.items()]).encode()),
        st.binary(max_size=200),
    ).map(lambda body: (body, "application/x-www-form-urlencoded"))
    other = st.tuples(st.binary(max_size=200), st.sampled_from(["text/plain", "", "application/xml", "audio/wav",
                                                                "application/json; charset=latin-1"]))
    bodies = st.one_of(json_body, form_body, _multipart_body(route), other)
    idempotency = st.one_of(st.none(), st.text(alphabet="abc-123", min_size=1, max_size=8))
    return st.tuples(bodies, idempotency).map(lambda pair: (
        "POST", route, {"Content-Type": pair[0][1], **({"Idempotency-Key": pair[1]} if pair[1] else {})}, pair[0][0]))


def _answer_problem(route: str, response) -> str:
    """What is wrong with an answer ('' when nothing is)."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.status_code < 400:
        return "" if response.status_code in (200, 202, 302) else f"unexpected {response.status_code}"
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return f"{response.status_code} not JSON: {response.text[:200]}"
    body = response.json()
    if route.startswith("/api/v1/"):
        return "" if body.get("code") == response.status_code and body.get("msg") else f"not kie's envelope: {body}"
    ok = body.get("success") is False and body.get("code") and body.get("error")
    return "" if ok and len(response.content) <= 16 * 1024 else f"not the envelope, or too long: {response.text[:300]}"


def send_odd_requests(route: str, stack, tally, problems: list[str]) -> None:
    import requests

    @given(request=_request(route))
    @settings(max_examples=ODD_EXAMPLES_PER_ROUTE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(request):
        method, path, headers, body = request
        response = requests.request(method, stack.api_url + path, data=body, timeout=60,
                                    headers={"Authorization": stack.api_key, **headers})
        tally[(route, response.status_code)] += 1
        problem = _answer_problem(route, response)
        if problem:
            problems.append(f"{method} {path[:120]} ({headers.get('Content-Type')}): {problem}")

    run()


def test_odd_inputs_on_every_route_get_no_5xx_and_always_the_envelope(local_stack):
    import collections

    tally: collections.Counter = collections.Counter()
    problems: list[str] = []
    for route in BODY_ROUTES + QUERY_ROUTES:
        send_odd_requests(route, local_stack, tally, problems)
    print("\nodd-input fuzz:", sum(tally.values()), "requests;",
          ", ".join(f"{route} {status}×{count}" for (route, status), count in sorted(tally.items())))
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:20])
