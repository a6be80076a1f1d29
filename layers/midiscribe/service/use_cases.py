"""Every use case the API offers, for one request; the submit function's handler wires them."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .lookups import TaskLookup
from .redelivery import WebhookRedelivery
from .result_links import ResultLinks
from .submissions import Submissions
from .uploads import Uploads


@dataclass(frozen=True)
class UseCases:
    settings: Settings
    submissions: Submissions
    lookup: TaskLookup
    uploads: Uploads
    result_links: ResultLinks
    redelivery: WebhookRedelivery
