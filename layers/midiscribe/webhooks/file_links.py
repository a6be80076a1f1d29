"""Signed links to a task's result files: ``GET /v1/files/{task_id}/{name}?expires=…&signature=…``.

Webhooks are retried for days, longer than a presigned S3 URL stays valid when it is signed with a
Lambda role's temporary credentials (those expire within hours). So a webhook carries links to the
API instead, signed with the task owner's webhook secret; the API checks the signature when the
link is followed and redirects to a freshly presigned, short-lived S3 URL.

The signature is HMAC-SHA256 over ``task_id``, ``name`` and ``expires`` with a key derived from the
owner key's ``whsec_`` secret. The derivation keeps these signatures apart from the Standard
Webhooks signatures made with the same secret: neither can be passed off as the other. Whoever holds
the secret (the key's owner) could make links to their own tasks' files, which they may fetch
through ``GET /v1/byId`` anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

FILE_ROUTE = "/v1/files/{task_id}/{name}"
_KEY_DERIVATION_LABEL = b"midiscribe file links v1"
# An epoch in seconds has 10 digits until the year 2286; longer values are not timestamps.
_MAX_EXPIRES_DIGITS = 12


class FileLinkError(ValueError):
    """A link that does not grant access; ``code`` says why (for the API's error envelope)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class FileLink:
    task_id: str
    name: str
    expires: int


def _link_key(secret: str) -> bytes:
    if not secret:
        raise ValueError("a file link needs the task owner's webhook secret, which is empty")
    return hmac.new(secret.encode("utf-8"), _KEY_DERIVATION_LABEL, hashlib.sha256).digest()


def sign(secret: str, link: FileLink) -> str:
    """The link's signature: URL-safe base64 (no padding) of HMAC-SHA256 over task_id, name and expires."""
    # Newlines cannot occur in the name or the decimal expiry, so the fields cannot shift into each other.
    message = f"{link.task_id}\n{link.name}\n{link.expires}".encode()
    digest = hmac.new(_link_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_url(base_url: str, secret: str, link: FileLink) -> str:
    """The full link on the API at ``base_url`` (e.g. ``https://abc.execute-api.…/prod``)."""
    path = FILE_ROUTE.format(task_id=quote(link.task_id, safe=""), name=quote(link.name, safe=""))
    query = urlencode({"expires": link.expires, "signature": sign(secret, link)})
    return f"{base_url.rstrip('/')}{path}?{query}"


def parse_expires(value: str | int | None) -> int:
    """The ``expires`` query value as epoch seconds; :class:`FileLinkError` when it is not one."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or len(text) > _MAX_EXPIRES_DIGITS:
        raise FileLinkError(
            "The link's expires parameter is missing or not a time in epoch seconds: use the link exactly as "
            "the webhook gave it.",
            "INVALID_SIGNATURE",
        )
    return int(text)


def mismatch() -> FileLinkError:
    """The one refusal for a link that cannot be checked or does not check out, whatever the reason (a
    wrong signature, a task that does not exist): a link's answer must not tell which tasks exist."""
    return FileLinkError(
        "The link's signature does not match: use the link exactly as the webhook gave it, or get fresh "
        "links with GET /v1/byId.",
        "INVALID_SIGNATURE",
    )


def verify(secret: str, link: FileLink, signature: str | None, *, now: float) -> None:
    """Accept the link or raise :class:`FileLinkError` (bad signature or expired)."""
    expected = sign(secret, link)
    if not signature or not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        raise mismatch()
    # Checked after the signature, so that only a genuine link learns that it has expired.
    if now > link.expires:
        raise FileLinkError(
            "This link has expired: get fresh links with GET /v1/byId, or redeliver the webhook with "
            "POST /v1/tasks/{task_id}/webhook/redeliver.",
            "LINK_EXPIRED",
        )
