"""Where things live in the data bucket, and which of its objects a key may name.

The template's lifecycle rules and inbox notification name the same prefixes. Uploads live under
their owner's key id (``uploads/<key_id>/<upload_id>/<file>``), so whose an upload is can be read
from its key alone: a request may name only its own uploads, and anything else in the bucket
(other keys' uploads, ``inbox/``, ``results/``) is answered exactly like an object that does not exist.
"""

from __future__ import annotations

UPLOADS_PREFIX = "uploads/"  # files clients send (in the request, or with a presigned POST)
INBOX_PREFIX = "inbox/"  # files dropped into the bucket: each becomes a task with default options
RESULTS_PREFIX = "results/"  # what the worker writes, one folder per task


def upload_key(owner_id: str, upload_id: str, filename: str) -> str:
    return f"{UPLOADS_PREFIX}{owner_id}/{upload_id}/{filename}"


def owns_upload(owner_id: str, key: str) -> bool:
    """Whether ``key`` is one of ``owner_id``'s uploads (the only objects a request may name)."""
    return bool(owner_id) and "/" not in owner_id and key.startswith(f"{UPLOADS_PREFIX}{owner_id}/")


def result_key(task_id: str, stem: str, extension: str) -> str:
    return f"{RESULTS_PREFIX}{task_id}/{stem}.{extension}"
