"""Request bodies as MusicGPT/kie.ai clients send them, and the request models' validation of their fields."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import requests
import soundfile

from midiscribe.api.body import RequestBody, parse_body
from midiscribe.api.errors import UnsupportedMediaTypeError
from midiscribe.api.requests import (
    AudioToMidiForm,
    FileConvertForm,
    MidiGenerateBody,
    UploadBody,
    s3_key_from_path,
)
from midiscribe.domain.errors import InvalidRequestError, TooLargeError
from midiscribe.domain.requests import UploadedFile

BUCKET = "midiscribe-data-test"
URL = "https://api.example.com/api/public/v1/audio_to_midi"
MAX = 10 * 1024 * 1024


def prepared(**kwargs) -> tuple[bytes, str]:
    """What requests puts on the wire for requests.post(URL, **kwargs): (body, Content-Type)."""
    request = requests.Request("POST", URL, headers={"Authorization": "k"}, **kwargs).prepare()
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    return body, request.headers.get("Content-Type", "")


def tiny_wav() -> bytes:
    buffer = io.BytesIO()
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2205) / 22050)
    soundfile.write(buffer, tone, 22050, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def audio_to_midi(body: RequestBody):
    return AudioToMidiForm.parse(body).to_request(bucket=BUCKET)


def file_convert(body: RequestBody):
    return FileConvertForm.parse(body).to_request(bucket=BUCKET)


# ---- the seeds' samples, unchanged


def test_seed_000_option_1_form_with_audio_url_and_python_booleans() -> None:
    payload = {
        "audio_url": "https://example.com/audio_file.wav",
        "sonify_midi": True,
        "save_note_events": True,
        "webhook_url": "https://your-webhook-url.com/callback",
    }
    body, content_type = prepared(data=payload)
    assert content_type == "application/x-www-form-urlencoded"
    assert b"sonify_midi=True" in body
    request = audio_to_midi(parse_body(body, content_type, max_bytes=MAX))
    assert request.audio.url == "https://example.com/audio_file.wav"
    assert request.sonify_midi is True and request.save_note_events is True
    assert request.webhook_url == "https://your-webhook-url.com/callback"
    assert request.options == {}


def test_seed_000_option_2_multipart_upload_keeps_binary_bytes_exactly() -> None:
    wav = tiny_wav() + b"\r\n--not-the-boundary\r\n\x00\xff"  # binary that looks like multipart syntax
    payload = {"sonify_midi": False, "save_note_events": True, "webhook_url": "https://your-webhook-url.com/callback"}
    body, content_type = prepared(data=payload, files={"audio_file": ("audio.wav", io.BytesIO(wav))})
    assert content_type.startswith("multipart/form-data; boundary=")
    parsed = parse_body(body, content_type, max_bytes=MAX)
    assert parsed.files["audio_file"].data == wav
    assert parsed.files["audio_file"].filename == "audio.wav"
    request = audio_to_midi(parsed)
    assert request.audio.file is not None and request.audio.filename == "audio.wav"
    assert request.sonify_midi is False  # "False" from requests' data=
    assert request.save_note_events is True


def test_seed_002_python_json_with_audio_path_in_our_bucket() -> None:
    payload = {
        "audio_path": f"s3://{BUCKET}/input_audio.wav",
        "sonify_midi": True,
        "save_note_events": True,
        "webhook_url": "https://yourdomain.com/webhook",
    }
    body, content_type = prepared(json=payload)
    request = audio_to_midi(parse_body(body, content_type, max_bytes=MAX))
    assert request.audio.key == "input_audio.wav"


def test_seed_002_curl_json_body_without_json_content_type() -> None:
    body = b"""{
  "audio_path": "s3://%s/input_audio.wav",
  "sonify_midi": true,
  "save_note_events": false,
  "webhook_url": "https://yourdomain.com/webhook"
}""" % BUCKET.encode()
    # curl -d labels its body as a form.
    request = audio_to_midi(parse_body(body, "application/x-www-form-urlencoded", max_bytes=MAX))
    assert request.audio.key == "input_audio.wav"
    assert request.save_note_events is False


def test_seed_002_first_sample_sends_a_web_link_as_audio_path() -> None:
    body, content_type = prepared(json={"audio_path": "https://example.com/audio_file.wav", "sonify_midi": True})
    request = audio_to_midi(parse_body(body, content_type, max_bytes=MAX))
    assert request.audio.url == "https://example.com/audio_file.wav"


def test_seed_004_file_convert_form() -> None:
    payload = {"audio_url": "https://example.com/audio.mp3", "target_format": "wav", "target_sr": 44100,
               "webhook_url": "https://your-webhook-url.com/callback"}
    body, content_type = prepared(data=payload)
    request = file_convert(parse_body(body, content_type, max_bytes=MAX))
    assert request.convert.target_format == "wav" and request.convert.target_sr == 44100
    assert request.convert.target_bit_depth is None


def test_seed_004_file_convert_upload_with_bit_depth() -> None:
    payload = {"target_format": "flac", "target_bit_depth": 24, "webhook_url": "https://your-webhook-url.com/callback"}
    body, content_type = prepared(data=payload, files={"audio_file": ("audio.mp3", io.BytesIO(b"ID3fake"))})
    request = file_convert(parse_body(body, content_type, max_bytes=MAX))
    assert request.convert.target_bit_depth == 24 and request.audio.file is not None


def test_seed_003_kie_generate() -> None:
    body, content_type = prepared(json={"taskId": "5c79be8e", "callBackUrl": "https://example.callback"})
    request = MidiGenerateBody.parse(parse_body(body, content_type, max_bytes=MAX)).to_request()
    assert request.source_task_id == "5c79be8e" and request.callback_url == "https://example.callback"


# ---- body parsing


def test_base64_multipart_with_quoted_boundary_and_utf8_filename() -> None:
    boundary = "----x y"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio_file"; filename="t\u00e9st.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\n"
    ).encode() + b"RIFF\x00\x01\r\n" + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"sonify_midi\"\r\n\r\n0\r\n--{boundary}--\r\n".encode()
    parsed = parse_body(body, f'multipart/form-data; boundary="{boundary}"', max_bytes=MAX)
    assert parsed.files["audio_file"].data == b"RIFF\x00\x01\r\n"
    assert parsed.files["audio_file"].content_type == "audio/wav"
    assert parsed.fields == {"sonify_midi": "0"}


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"{not json", "application/json", "INVALID_JSON"),
        (b"[1, 2]", "application/json", "INVALID_JSON"),
        (b"a=%ZZ&&=", "application/x-www-form-urlencoded", "INVALID_FORM"),
        (b"--b\r\nno headers here--b--", "multipart/form-data; boundary=b", "INVALID_MULTIPART"),
        (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b",
         "INVALID_MULTIPART"),
        (b"anything", "multipart/form-data", "INVALID_MULTIPART"),
        (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", "multipart/form-data; boundary=b",
         "INVALID_MULTIPART"),
    ],
)
def test_malformed_bodies_are_400_with_a_reason(body: bytes, content_type: str, code: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(body, content_type, max_bytes=MAX)
    assert caught.value.code == code and caught.value.message


def test_unsupported_content_type_is_415() -> None:
    with pytest.raises(UnsupportedMediaTypeError) as caught:
        parse_body(b"<xml/>", "application/xml", max_bytes=MAX)
    assert "multipart/form-data" in caught.value.message


def test_body_over_the_limit_is_413() -> None:
    with pytest.raises(TooLargeError) as caught:
        parse_body(b"x" * 101, "application/octet-stream", max_bytes=100)
    assert "/v1/uploads" in caught.value.message


def test_empty_body_means_no_fields() -> None:
    assert parse_body(b"", None, max_bytes=MAX) == RequestBody()
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(parse_body(b"", None, max_bytes=MAX))
    assert caught.value.code == "MISSING_AUDIO"


# ---- field values


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("True", True), ("False", False), ("true", True), ("false", False),
     ("1", True), ("0", False), (1, True), (0, False), (None, None), ("", None)],
)
def test_booleans_in_every_spelling_clients_use(value, expected) -> None:
    request = audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "sonify_midi": value}))
    assert request.sonify_midi is (True if expected is None else expected)  # not given: the default
    request = audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "save_note_events": value}))
    assert request.save_note_events is (True if expected is None else expected)


@pytest.mark.parametrize("value", ["maybe", "2", 2, [True], {"a": 1}])
def test_other_boolean_values_are_refused(value) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "sonify_midi": value}))
    assert "sonify_midi must be true or false" in caught.value.message
    assert caught.value.code == "INVALID_PARAMETER"


def test_engine_options_by_name_from_a_form_are_typed_and_validated() -> None:
    body = RequestBody(fields={"audio_url": "https://e.com/a.wav", "onset_threshold": "0.6",
                               "melodia_trick": "False", "minimum_frequency": ""})
    assert audio_to_midi(body).options == {"onset_threshold": 0.6, "melodia_trick": False}


def test_out_of_range_option_is_400_with_the_engines_message() -> None:
    body = RequestBody(fields={"audio_url": "https://e.com/a.wav", "onset_threshold": "1.5"})
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(body)
    assert caught.value.code == "INVALID_OPTIONS" and "onset_threshold" in caught.value.message


def test_unknown_field_names_the_known_ones() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "sonify": "1"}))
    assert caught.value.code == "UNKNOWN_FIELD" and "sonify_midi" in caught.value.message


def test_the_known_fields_are_the_ones_a_client_may_send() -> None:
    """stem_parts is where the stem.<name> parts are gathered, not a field: it is neither offered nor taken."""
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "sonify": "1"}))
    assert "stem_parts" not in caught.value.message and "stems" in caught.value.message
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "stem_parts": "x"}))
    assert caught.value.code == "UNKNOWN_FIELD" and "Unknown field(s) for POST /v1/audio_to_midi: stem_parts." in (
        caught.value.message)


@pytest.mark.parametrize(
    ("fields", "files", "code"),
    [
        ({"audio_url": "https://e.com/a.wav", "audio_path": "s3://b/k"}, {}, "AMBIGUOUS_AUDIO_SOURCE"),
        ({"audio_url": "https://e.com/a.wav"}, {"audio_file": UploadedFile("a.wav", "audio/wav", b"x")},
         "AMBIGUOUS_AUDIO_SOURCE"),
        ({"audio_file": "not a file"}, {}, "INVALID_AUDIO_FILE"),
        ({}, {"audio_file": UploadedFile("a.wav", "audio/wav", b"")}, "EMPTY_FILE"),
        ({"audio_url": 5}, {}, "INVALID_PARAMETER"),
        ({"audio_path": "s3://someone-elses-bucket/input_audio.wav"}, {}, "FOREIGN_BUCKET"),
        ({"audio_path": "ftp://host/x.wav"}, {}, "INVALID_AUDIO_PATH"),
        ({"audio_path": f"s3://{BUCKET}/"}, {}, "INVALID_AUDIO_PATH"),
        ({"audio_path": "uploads/../secret"}, {}, "INVALID_AUDIO_PATH"),
    ],
)
def test_bad_audio_sources(fields, files, code) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields=fields, files=files))
    assert caught.value.code == code


def test_foreign_bucket_message_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        s3_key_from_path("s3://your-bucket/input_audio.wav", bucket=BUCKET)
    assert BUCKET in caught.value.message and "/v1/uploads" in caught.value.message


def test_upload_key_or_path_is_accepted_as_audio_path() -> None:
    assert s3_key_from_path("uploads/abc/song.wav", bucket=BUCKET) == "uploads/abc/song.wav"
    assert s3_key_from_path("/uploads/abc/song.wav", bucket=BUCKET) == "uploads/abc/song.wav"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"target_format": "wma"}, "not supported"),
        ({"target_format": "mp3", "target_bit_depth": "24"}, "lossy"),
        ({"target_format": "flac", "target_bit_depth": 32}, "cannot hold 32-bit"),
        ({"target_sr": "fast"}, "whole number"),
        ({"target_sr": 100}, "target_sr must be from 8000 to 192000 (got 100)"),
        ({"target_format": "mp3", "target_sr": 96000}, "mp3 cannot hold"),
        ({"target_bit_depth": 12}, "16, 24, 32"),
    ],
)
def test_file_convert_parameters_are_checked(fields, fragment) -> None:
    body = RequestBody(fields={"audio_url": "https://e.com/a.wav", **fields})
    with pytest.raises(InvalidRequestError) as caught:
        file_convert(body)
    assert fragment in caught.value.message


def test_file_convert_defaults_to_wav() -> None:
    body = RequestBody(fields={"audio_url": "https://e.com/a.mp3"})
    request = file_convert(body)
    assert request.convert.target_format == "wav"


@pytest.mark.parametrize(
    "fields",
    [{"callBackUrl": "https://e.com/cb"}, {"taskId": "t"}, {"taskId": "t", "callBackUrl": "https://e.com", "x": 1}],
)
def test_kie_generate_requires_both_fields(fields) -> None:
    with pytest.raises(InvalidRequestError):
        MidiGenerateBody.parse(RequestBody(fields=fields)).to_request()


def test_upload_request() -> None:
    request = UploadBody.parse(parse_body(json.dumps({"filename": "../My Song.m4a"}).encode(), None, max_bytes=MAX))
    request = request.to_request()
    assert request.filename == "My_Song.m4a" and request.content_type == "application/octet-stream"
    with pytest.raises(InvalidRequestError) as caught:
        UploadBody.parse(RequestBody(fields={}))
    assert caught.value.code == "MISSING_PARAMETER"
    with pytest.raises(InvalidRequestError) as caught:
        UploadBody.parse(RequestBody(fields={"filename": "a.wav", "content_type": "wav"}))
    assert caught.value.code == "INVALID_PARAMETER" and "media type" in caught.value.message


# ---- bounds: what a request may carry, refused before anything else reads it


def parsed_json(text: str, content_type: str = "application/json") -> RequestBody:
    return parse_body(text.encode(), content_type, max_bytes=MAX)


@pytest.mark.parametrize("depth", [9, 1000, 100_000])
def test_json_nested_deeper_than_the_limit_is_refused(depth) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parsed_json('{"audio_url": ' + "[" * depth + "]" * depth + "}")
    assert caught.value.code == "INVALID_JSON" and "8 levels" in caught.value.message


def test_json_nested_within_the_limit_is_read() -> None:
    assert parsed_json('{"a": ' + "[" * 7 + "]" * 7 + "}").fields == {"a": [[[[[[[]]]]]]]}


@pytest.mark.parametrize("text", ['{"audio_path": "\\ud800"}', '{"\\udfff": 1}', '{"a": ["x", {"b": "\\ud83d"}]}'])
def test_lone_surrogates_anywhere_are_refused(text) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parsed_json(text)
    assert caught.value.code == "INVALID_TEXT" and "surrogate" in caught.value.message


def test_a_valid_surrogate_pair_is_a_character() -> None:
    assert parsed_json('{"audio_url": "https://e.com/\\ud83c\\udfb5.wav"}').fields["audio_url"].endswith("🎵.wav")


@pytest.mark.parametrize("text", ['{"onset_threshold": NaN}', '{"midi_tempo": Infinity}', '{"midi_tempo": 1e999}'])
def test_numbers_json_cannot_hold_are_refused(text) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parsed_json(text)
    assert caught.value.code == "INVALID_JSON"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"audio_url": "a", "audio_url": "b"}', "application/json"),
     (b"audio_url=a&audio_url=b", "application/x-www-form-urlencoded")],
)
def test_a_field_sent_twice_is_refused(body, content_type) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(body, content_type, max_bytes=MAX)
    assert caught.value.code == "DUPLICATE_FIELD" and "audio_url" in caught.value.message


def test_two_audio_file_parts_are_refused() -> None:
    body, content_type = prepared(files=[("audio_file", ("a.wav", b"RIFF1")), ("audio_file", ("b.wav", b"RIFF2"))])
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(body, content_type, max_bytes=MAX)
    assert caught.value.code == "DUPLICATE_FIELD" and "audio_file" in caught.value.message


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_more_fields_than_the_limit_are_refused(kind) -> None:
    fields = {f"field_{i}": "x" for i in range(65)}
    if kind == "json":
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        body, content_type = prepared(data=fields, files={"audio_file": ("a.wav", b"RIFF")} if kind == "multipart" else None)
    with pytest.raises(InvalidRequestError) as caught:
        parse_body(body, content_type, max_bytes=MAX)
    assert caught.value.code == "TOO_MANY_FIELDS" and "64" in caught.value.message


def test_a_raw_audio_body_is_refused_for_its_content_type_whatever_its_size() -> None:
    """A 2 MB body sent as Content-Type: audio/wav was refused as a form over 1 MB (413), not for its type."""
    for size in (100, 2 * 1024 * 1024):
        with pytest.raises(UnsupportedMediaTypeError) as caught:
            parse_body(b"RIFF" + b"\0" * size, "audio/wav", max_bytes=MAX)
        assert caught.value.code == "UNSUPPORTED_MEDIA_TYPE" and "multipart/form-data" in caught.value.message


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain", "application/json"])
def test_an_audio_file_sent_as_the_whole_body_of_a_form_is_told_to_be_sent_as_a_file(content_type) -> None:
    """`curl --data-binary @song.wav` labels the file a form: it was refused as "The request has 485 fields",
    or as a form that could not be read, without a word about how to send a file."""
    wav = b"RIFF\x24\x00\x01\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + b"\x00\x10&=" * 200
    for body in (wav, wav * 2000):  # under and over the 1 MB bound on a body of fields
        with pytest.raises(UnsupportedMediaTypeError) as caught:
            parse_body(body, content_type, max_bytes=10 * 1024 * 1024)
        assert caught.value.code == "UNSUPPORTED_MEDIA_TYPE"
        assert "-F audio_file=@song.wav" in caught.value.message and "/v1/uploads" in caught.value.message


@pytest.mark.parametrize(("form", "field"), [(AudioToMidiForm, "onset_threshold"), (AudioToMidiForm, "model"),
                                            (AudioToMidiForm, "sonify_midi"), (AudioToMidiForm, "stems"),
                                            (FileConvertForm, "target_sr"), (FileConvertForm, "target_format")])
def test_a_text_field_sent_as_a_file_says_so_without_quoting_the_file(form, field) -> None:
    """-F onset_threshold=@take.wav was answered with the part's repr, its bytes included, as the value got."""
    body = parse_body(*prepared(data={"audio_url": "https://e.com/a.wav"},
                                files={field: ("take.wav", b"RIFF" + b"\x00" * 4000)}), max_bytes=MAX)
    with pytest.raises(InvalidRequestError) as caught:
        form.parse(body)
    assert caught.value.code == "INVALID_PARAMETER"
    assert caught.value.message == (f"{field} was sent as a file ('take.wav'); send it as a text field "
                                    f"(curl: -F '{field}=value', not -F '{field}=@file').")


def test_a_body_over_the_limit_says_how_to_send_stems_too() -> None:
    """Three CD-quality stems of 14 s each are over the limit together; the advice named one audio_path only,
    which a stems request cannot use."""
    with pytest.raises(TooLargeError) as caught:
        parse_body(*prepared(files={"stem.bass": ("bass.wav", b"RIFF" + b"\x00" * 5000)}), max_bytes=4000)
    assert caught.value.code == "PAYLOAD_TOO_LARGE"
    assert "POST /v1/uploads" in caught.value.message and "stems list" in caught.value.message
    assert '"audio_path"' in caught.value.message


def test_a_fields_only_body_over_1_mb_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(TooLargeError) as caught:
        parse_body(b'{"a": "' + b"x" * (1024 * 1024) + b'"}', "application/json", max_bytes=MAX)
    assert caught.value.code == "PAYLOAD_TOO_LARGE" and "1024 KB" in caught.value.message


@pytest.mark.parametrize("field", ["audio_url", "webhook_url", "audio_path"])
def test_text_over_2_kb_is_refused_naming_the_field_and_the_limit(field) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={field: "https://e.com/" + "a" * 2048}))
    assert caught.value.code == "TEXT_TOO_LONG"
    assert field in caught.value.message and "2048" in caught.value.message


def test_many_unknown_fields_are_named_a_few_at_a_time() -> None:
    fields = {"audio_url": "https://e.com/a.wav", **{f"unknown_{i:03d}": "x" for i in range(40)}}
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields=fields))
    assert caught.value.code == "UNKNOWN_FIELD"
    assert "unknown_000, unknown_001, unknown_002, unknown_003, unknown_004 and 35 more" in caught.value.message
    assert len(caught.value.message) < 1000


@pytest.mark.parametrize(("field", "value"), [("onset_threshold", True), ("midi_tempo", False),
                                              ("minimum_frequency", True)])
def test_a_boolean_is_not_a_number(field, value) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", field: value}))
    assert caught.value.code == "INVALID_PARAMETER"
    assert caught.value.message == f"{field} must be a number (got {str(value).lower()})."


def test_a_huge_wrong_value_is_quoted_briefly() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        audio_to_midi(RequestBody(fields={"audio_url": "https://e.com/a.wav", "sonify_midi": ["x"] * 100_000}))
    assert "sonify_midi" in caught.value.message and len(caught.value.message) < 300


def test_text_of_only_whitespace_is_not_given() -> None:
    """Blank text becomes "not given" before any bound applies (it once reached max_length as None: a 500)."""
    request = audio_to_midi(RequestBody(fields={"audio_url": "\r\u2006\x1c\u2008", "audio_path": "uploads/k/a.wav"}))
    assert request.audio.key == "uploads/k/a.wav" and request.audio.url == ""


# ---- stems


def stems_request(body: bytes, content_type: str):
    return AudioToMidiForm.parse(parse_body(body, content_type, max_bytes=10_000_000)).to_request(bucket="bucket")


def test_multipart_stems_take_their_instrument_from_a_field_or_a_stems_entry() -> None:
    wav = tiny_wav()
    request = stems_request(*prepared(
        files={"stem.drums": ("d.wav", wav), "stem.lead": ("l.wav", wav), "stem.keys": ("k.wav", wav)},
        data={"stem.lead.instrument": "Winds", "stems": json.dumps([
            {"name": "keys", "instrument": "organ"}, {"name": "bass", "audio_url": "https://e.com/b.wav"}]),
            "onset_threshold": "0.4"}))
    assert [(s.name, s.instrument, s.audio.filename or s.audio.url) for s in request.stems] == [
        ("drums", "", "d.wav"), ("lead", "winds", "l.wav"), ("keys", "organ", "k.wav"), ("bass", "", "https://e.com/b.wav")]
    assert request.options == {"onset_threshold": 0.4} and request.audio.file is None


def test_a_stems_entry_names_its_part_ignoring_case_and_may_not_contradict_its_instrument_field() -> None:
    """A part's instrument in two places used to be settled silently by the stems entry, and an entry
    naming the part in another case ('lead' for stem.Lead) was refused as a stem without audio."""
    wav = tiny_wav()
    request = stems_request(*prepared(files={"stem.Lead": ("l.wav", wav)},
                                      data={"stems": json.dumps([{"name": "lead", "instrument": "winds"}])}))
    assert [(s.name, s.instrument) for s in request.stems] == [("Lead", "winds")]
    request = stems_request(*prepared(files={"stem.lead": ("l.wav", wav)}, data={
        "stem.lead.instrument": "winds", "stems": json.dumps([{"name": "lead", "instrument": "winds"}])}))
    assert [(s.name, s.instrument) for s in request.stems] == [("lead", "winds")]
    with pytest.raises(InvalidRequestError) as refused:
        stems_request(*prepared(files={"stem.lead": ("l.wav", wav)}, data={
            "stem.lead.instrument": "winds", "stems": json.dumps([{"name": "lead", "instrument": "organ"}])}))
    assert refused.value.code == "INVALID_STEMS"
    assert refused.value.message == ("Stem 'lead' is given two instruments: winds in stem.lead.instrument and "
                                     "organ in stems. Give it once.")


def test_form_stems_are_json_text() -> None:
    request = stems_request(*prepared(data={"stems": json.dumps([{"name": "bass", "audio_path": "uploads/k/u/b.wav"}])}))
    assert [(s.name, s.audio.key) for s in request.stems] == [("bass", "uploads/k/u/b.wav")]


@pytest.mark.parametrize(
    ("request_kwargs", "code", "words"),
    [
        ({"json": {"stems": "not json"}}, "INVALID_STEMS", "not valid JSON"),
        ({"json": {"stems": []}}, "INVALID_STEMS", "stems is an empty list: list each stem"),
        ({"data": {"stems": "[]"}}, "INVALID_STEMS", "stems is an empty list: list each stem"),
        ({"json": {"stems": [{"name": "a", "audio_url": "https://e.com/a", "gain": 2}]}}, "INVALID_STEMS", "'gain'"),
        ({"json": {"stems": [{"name": "a", "audio_url": "https://e.com/a", "instrument": "kazoo"}]}},
         "INVALID_STEMS", "kazoo"),
        ({"json": {"stems": [{"name": "a", "audio_url": "https://e.com/a", "audio_path": "uploads/k/a.wav"}]}},
         "AMBIGUOUS_AUDIO_SOURCE", "give one"),
        ({"json": {"stem.bass": "https://e.com/a"}}, "INVALID_STEMS", "multipart/form-data"),
        ({"data": {"stem.bass.instrument": "bass"}}, "INVALID_STEMS", "no file part stem.bass"),
        ({"files": {"stem.lead": ("a.wav", b"RIFF")}, "data": {"stem.lead.instrument": "kazoo"}},
         "INVALID_STEMS", "stem.lead.instrument: instrument 'kazoo' is not known"),
        ({"files": {"stem.": ("a.wav", b"RIFF")}}, "INVALID_STEM_NAME", "has no name"),
        ({"files": {"stem.a/b": ("a.wav", b"RIFF")}}, "INVALID_STEM_NAME", "letters, digits"),
        ({"files": {"stem.bass": ("a.wav", b"")}}, "EMPTY_FILE", "stem.bass"),
        ({"json": {"audio_url": "https://e.com/a", "stems": [{"name": "a", "audio_url": "https://e.com/a"}]}},
         "AMBIGUOUS_AUDIO_SOURCE", "not both"),
        ({"json": {}}, "MISSING_AUDIO", "stem.<name>"),
    ],
)
def test_stem_requests_that_cannot_work_say_what_to_change(request_kwargs, code, words) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        stems_request(*prepared(**request_kwargs))
    assert refused.value.code == code and words in refused.value.message, refused.value.message


@pytest.mark.parametrize(
    ("request_kwargs", "code", "words"),
    [
        # The JSON decoder recursed once per "[" and ran out of stack: a 500 with a RecursionError in the logs.
        ({"data": {"stems": "[" * 60_000}}, "INVALID_STEMS", "nested more than 8 levels deep"),
        ({"json": {"stems": "[" * 5_000}}, "INVALID_STEMS", "nested more than 8 levels deep"),
        ({"files": {"stem.a": ("a.wav", b"RIFF")}, "data": {"stems": '[{"name": "a", "instrument": ' + "[" * 5000}},
         "INVALID_STEMS", "nested more than 8 levels deep"),
        ({"data": {"stems": '[{"name": "a", "name": "b", "audio_url": "https://e.com/a"}]'}}, "INVALID_STEMS",
         "sent more than once: name"),
        # Text as long as a body may be was read whole, though no valid list of 8 stems comes near it.
        ({"data": {"stems": json.dumps([{"name": "a", "audio_url": "https://e.com/" + "a" * 2000}] * 40)}},
         "TEXT_TOO_LONG", "stems is 81"),
    ],
)
def test_stems_json_text_is_read_under_the_bodys_bounds(request_kwargs, code, words) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        stems_request(*prepared(**request_kwargs))
    assert refused.value.code == code and words in refused.value.message, refused.value.message


def _multipart(head: bytes, content: bytes = b"x") -> bytes:
    return b"--B\r\n" + head + b"\r\n\r\n" + content + b"\r\n--B--\r\n"


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        # 200,000 parameters in one part's Content-Disposition held the API's function for its whole 29 s (and the
        # local stack, which serves one request at a time, for every client); 8,000 already took 3 s.
        (_multipart(b'Content-Disposition: form-data; name="audio_file"; filename="a.wav"' + b"; a=b" * 200_000),
         "multipart/form-data; boundary=B", "HEADER_TOO_LARGE"),
        (_multipart(b'Content-Disposition: form-data; name="audio_file"; filename="a.wav"' + b"; a=b" * 700),
         "multipart/form-data; boundary=B", "HEADER_TOO_LARGE"),
        # A comment nested 3,000 deep made the header parser recurse past Python's limit: a 500.
        (_multipart(b'Content-Disposition: form-data; name="audio_file"; filename="a.wav"; x=' + b"(" * 3000),
         "multipart/form-data; boundary=B", "INVALID_HEADER"),
        (_multipart(b'Content-Disposition: form-data; name="a"\r\nContent-Type: text/plain ' + b"(" * 3000),
         "multipart/form-data; boundary=B", "INVALID_HEADER"),
        (b'{"audio_url": "https://e.com/a.wav"}', "application/json " + "(" * 2000, "INVALID_HEADER"),
        (b'{"audio_url": "https://e.com/a.wav"}', "application/json" + "; a=b" * 17, "HEADER_TOO_LARGE"),
    ],
)
def test_headers_the_api_parses_are_bounded_before_the_parser_runs(body, content_type, code) -> None:
    # How long these take (and the worst header within the bounds) is bench/request_parsing.py's to print.
    with pytest.raises(InvalidRequestError) as refused:
        parse_body(body, content_type, max_bytes=MAX)
    assert refused.value.code == code, refused.value.message


def worst_bounded_part_head() -> bytes:
    """The slowest header shape the bounds let through, at the size and parameter limits."""
    head = b'Content-Disposition: form-data; name="audio_file"; filename="a.wav"' + b"; a=b" * 13
    return head + b'; z="' + b"(" * (4096 - len(head) - 6) + b'"'


def test_a_part_header_at_the_bounds_is_read() -> None:
    body = parse_body(_multipart(worst_bounded_part_head()), "multipart/form-data; boundary=B", max_bytes=MAX)
    assert body.files["audio_file"].filename == "a.wav"
