"""Signed file links: what a signature covers, and what makes a link refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from midiscribe.aws.keys import new_webhook_secret
from midiscribe.webhooks.file_links import FileLink, FileLinkError, parse_expires, sign, signed_url, verify

SECRET = new_webhook_secret()
LINK = FileLink(task_id="3f2b9c1e-0000-4000-8000-000000000001", name="midi", expires=1_900_000_000)
NOW = 1_800_000_000.0


def _refused(link: FileLink, signature: str | None, *, secret: str = SECRET, now: float = NOW) -> str:
    with pytest.raises(FileLinkError) as refused:
        verify(secret, link, signature, now=now)
    return refused.value.code


def test_a_link_verifies_with_the_secret_that_signed_it():
    verify(SECRET, LINK, sign(SECRET, LINK), now=NOW)


def test_signed_url_carries_the_path_and_a_verifiable_signature():
    url = urlsplit(signed_url("https://abc.execute-api.us-east-1.amazonaws.com/prod/", SECRET, LINK))
    assert url.path == f"/prod/v1/files/{LINK.task_id}/midi"
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert int(query["expires"]) == LINK.expires
    verify(SECRET, LINK, query["signature"], now=NOW)
    assert "=" not in query["signature"] and "+" not in query["signature"] and "/" not in query["signature"]


@pytest.mark.parametrize(
    "tampered",
    [
        FileLink(task_id=LINK.task_id, name="wav", expires=LINK.expires),  # another file of the task
        FileLink(task_id="3f2b9c1e-0000-4000-8000-000000000002", name="midi", expires=LINK.expires),  # other task
        FileLink(task_id=LINK.task_id, name="midi", expires=LINK.expires + 86400),  # lifetime stretched
    ],
    ids=["tampered-name", "other-task", "later-expiry"],
)
def test_a_signature_covers_task_name_and_expiry(tampered):
    assert _refused(tampered, sign(SECRET, LINK)) == "INVALID_SIGNATURE"


def test_another_keys_secret_does_not_verify():
    assert _refused(LINK, sign(new_webhook_secret(), LINK)) == "INVALID_SIGNATURE"


@pytest.mark.parametrize("signature", [None, "", "x", sign(SECRET, LINK)[:-1], sign(SECRET, LINK) + "A", "é" * 43])
def test_missing_or_mangled_signatures_are_refused(signature):
    assert _refused(LINK, signature) == "INVALID_SIGNATURE"


def test_an_expired_link_is_refused_even_with_a_good_signature():
    assert _refused(LINK, sign(SECRET, LINK), now=LINK.expires + 1) == "LINK_EXPIRED"
    verify(SECRET, LINK, sign(SECRET, LINK), now=LINK.expires)  # valid up to and including its second


def test_a_forged_expired_link_is_told_it_is_forged_not_expired():
    assert _refused(LINK, "forged", now=LINK.expires + 1) == "INVALID_SIGNATURE"


def test_link_signatures_differ_from_the_raw_hmac_of_the_secret():
    """The key is derived, so a link signature is never a Standard Webhooks signature of the same bytes."""
    import base64
    import hashlib
    import hmac

    raw = base64.b64decode(SECRET.removeprefix("whsec_"))
    message = f"{LINK.task_id}\n{LINK.name}\n{LINK.expires}".encode()
    plain = base64.urlsafe_b64encode(hmac.new(raw, message, hashlib.sha256).digest()).rstrip(b"=").decode()
    assert sign(SECRET, LINK) != plain


@pytest.mark.parametrize("value", [None, "", "abc", "-5", "1.5", "1" * 13])
def test_expires_must_be_epoch_seconds(value):
    with pytest.raises(FileLinkError):
        parse_expires(value)


def test_expires_parses_digits():
    assert parse_expires("1900000000") == 1_900_000_000 and parse_expires(7) == 7


def test_an_empty_secret_cannot_sign():
    with pytest.raises(ValueError, match="secret"):
        sign("", LINK)
