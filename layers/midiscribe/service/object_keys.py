"""Where things live in the data bucket. The template's lifecycle rules and inbox notification
name the same prefixes."""

from __future__ import annotations

UPLOADS_PREFIX = "uploads/"  # files clients send (in the request, or with a presigned POST)
INBOX_PREFIX = "inbox/"  # files dropped into the bucket: each becomes a task with default options
RESULTS_PREFIX = "results/"  # what the worker writes, one folder per task


def upload_key(upload_id: str, filename: str) -> str:
    return f"{UPLOADS_PREFIX}{upload_id}/{filename}"


def result_key(task_id: str, stem: str, extension: str) -> str:
    return f"{RESULTS_PREFIX}{task_id}/{stem}.{extension}"
