"""Following a signed result link (``GET /v1/files/{task_id}/{name}``, as webhooks carry them).

The link is checked against the task owner's webhook secret (``midiscribe.webhooks.file_links``);
a good one leads to a fresh, short-lived presigned S3 URL. A link that cannot be checked (its task
does not exist, or its key is gone) gets the same answer as a wrong signature, so links cannot be
used to learn which tasks exist; a genuine link of a disabled key stops working with the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from midiscribe.domain import outputs
from midiscribe.domain.errors import AccessDeniedError, NotFoundError
from midiscribe.domain.ports import KeyStore, ObjectStore, TaskStore
from midiscribe.webhooks import file_links

from .lookups import plausible_id

# A followed link redirects to S3 at once, so its presigned URL need not live long.
FILE_REDIRECT_EXPIRY_S = 300


@dataclass(kw_only=True)
class ResultLinks:
    tasks: TaskStore
    keys: KeyStore
    storage: ObjectStore
    clock: Callable[[], float] = time.time

    def location(self, task_id: str, name: str, *, expires: str | None, signature: str | None) -> str:
        """Where the link leads: a presigned URL of the file, valid for a few minutes."""
        try:
            link = file_links.FileLink(task_id=task_id, name=name, expires=file_links.parse_expires(expires))
            task = self.tasks.get(task_id) if plausible_id(task_id) else None
            key = self.keys.get(task.owner_id) if task is not None and task.owner_id else None
            if task is None or key is None or not key.webhook_secret:
                raise file_links.mismatch()
            file_links.verify(key.webhook_secret, link, signature, now=self.clock())
        except file_links.FileLinkError as error:
            raise AccessDeniedError(error.message, error.code) from None
        if not key.enabled:
            raise AccessDeniedError(
                "The API key that created this task is disabled, so its links no longer work.", "KEY_DISABLED"
            )
        object_key = task.outputs.get(name) if name in outputs.LINKABLE else None
        if not object_key:
            produced = ", ".join(n for n in outputs.LINKABLE if task.outputs.get(n)) or "no files"
            raise NotFoundError(f"Task {task_id} has no {name[:40]!r} file: it produced {produced}.", "FILE_NOT_FOUND")
        return self.storage.presign_get(object_key, expires_s=FILE_REDIRECT_EXPIRY_S)
