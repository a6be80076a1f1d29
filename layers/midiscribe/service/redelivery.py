"""POST /v1/tasks/{task_id}/webhook/redeliver: a fresh run through the retry schedule for a finished
task's event, with the webhook-id of the earlier deliveries so receivers can deduplicate.

The new series replaces any series still retrying (the notifier drops messages of an older series).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from midiscribe.domain.errors import ConflictError, NotFoundError
from midiscribe.domain.messages import finished_event
from midiscribe.domain.ports import MessageSender
from midiscribe.domain.tasks import Task
from midiscribe.webhooks.schedule import NotifyMessage, new_series
from midiscribe.webhooks.signing import new_webhook_id

# webhook_attempts lives on the task item (DynamoDB items hold at most 400 KB); redeliveries stop
# being accepted past this many recorded attempts, which keeps the list far below that.
MAX_RECORDED_ATTEMPTS = 500


class RedeliveryStore(Protocol):
    def get(self, task_id: str) -> Task | None: ...
    def start_webhook_series(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Redelivery:
    task_id: str
    webhook_id: str
    event: str


@dataclass(kw_only=True)
class WebhookRedelivery:
    tasks: RedeliveryStore
    notify_queue: MessageSender

    def redeliver(self, task_id: str, *, owner_id: str) -> Redelivery:
        task = self.tasks.get(task_id)
        if task is None or task.owner_id != owner_id:
            raise NotFoundError(f"No task {task_id} for this API key: check the task_id.", "TASK_NOT_FOUND")
        if not task.webhook_url:
            raise ConflictError(
                f"Task {task_id} was submitted without a webhook_url, so there is no webhook to redeliver; "
                "poll GET /v1/byId instead, or submit again with webhook_url.",
                "WEBHOOK_NOT_CONFIGURED",
            )
        if not task.status.is_final:
            raise ConflictError(
                f"Task {task_id} is {task.status.value}: its webhook is sent when it finishes; redeliver after that.",
                "TASK_NOT_FINISHED",
            )
        if len(task.webhook_attempts) >= MAX_RECORDED_ATTEMPTS:
            raise ConflictError(
                f"Task {task_id} already has {len(task.webhook_attempts)} recorded webhook attempts, the most "
                "one task keeps: fetch its results with GET /v1/byId instead.",
                "WEBHOOK_REDELIVERY_LIMIT",
            )
        state = self.tasks.start_webhook_series(task_id, webhook_id=new_webhook_id(), series=new_series())
        if state is None:
            raise NotFoundError(f"No task {task_id} for this API key: check the task_id.", "TASK_NOT_FOUND")
        event = finished_event(task)
        message = NotifyMessage(
            task_id=task_id,
            event=event,
            attempt=1,
            webhook_id=state["webhook_event_id"],
            series=state["webhook_series"],
        )
        self.notify_queue.send(json.loads(message.to_body()))
        return Redelivery(task_id=task_id, webhook_id=state["webhook_event_id"], event=event)
