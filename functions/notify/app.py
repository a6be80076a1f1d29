"""NotifyFunction: SQS batches from the notify queue; each record is one webhook attempt (or a wait).

The work lives in ``midiscribe.webhooks.notifier``; this handler wires the notifier to this
deployment's table, queues and bucket, feeds it the records, and reports the ones that raised as
batch item failures, so SQS retries just those.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from midiscribe.aws.keys import ApiKeyRepository
from midiscribe.aws.lambda_logs import with_lambda_context
from midiscribe.aws.queues import MessageQueue
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.domain import outputs
from midiscribe.domain.tasks import Task
from midiscribe.service import kie
from midiscribe.service.config import Settings
from midiscribe.webhooks.notifier import WebhookNotifier
from midiscribe.webhooks.schedule import RetrySchedule

# Named "midiscribe": the webhook modules' standard-library loggers (midiscribe.webhooks.*) are its
# children, so each attempt's status and reply excerpt come out as the same structured JSON lines.
logger = Logger(service="midiscribe")
tracer = Tracer(service="midiscribe")
# A whole batch failing is reported like a partial failure (every record listed) rather than raised,
# so the response shape is always the same; each record's error is logged either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def notifier(settings: Settings) -> WebhookNotifier:
    """The notifier on this deployment's table, queues and bucket (boto3 clients are shared per process)."""
    storage = Storage(settings.bucket)

    def presign(key: str, expires_s: int) -> str:
        return storage.presign_get(key, expires_s=expires_s)

    def instruments(task: Task) -> list[dict[str, Any]]:
        """A midi_generate task's notes, for kie.ai's callback."""
        if task.outputs.get(outputs.MIDI_DATA):
            return kie.read_midi_data(storage.get_bytes(task.outputs[outputs.MIDI_DATA]))
        if task.outputs.get(outputs.NOTES_JSON):
            return kie.instruments_from_notes_document(storage.get_bytes(task.outputs[outputs.NOTES_JSON]))
        raise RuntimeError(f"task {task.task_id} is COMPLETED but has no stored notes to send")

    return WebhookNotifier(
        tasks=TaskRepository(settings.tasks_table),
        keys=ApiKeyRepository(settings.keys_table),
        notify_queue=MessageQueue(settings.notify_queue_url),
        dead_letters=MessageQueue(settings.notify_dlq_url) if settings.notify_dlq_url else None,
        presign=presign,
        schedule=RetrySchedule(settings.webhook_retry_schedule),
        public_api_url=settings.public_api_url,
        allow_private=settings.allow_private_urls,
        allow_http=settings.allow_http_urls,
        timeout_s=settings.webhook_timeout_s,
        instruments=instruments,
    )


@with_lambda_context(logger)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Wired per invocation from the environment: cheap next to an HTTP attempt, and the settings
    # (and the endpoints the local stack and tests point boto3 at) are always the current ones.
    webhooks = notifier(Settings.from_env())

    def handle_record(record: SQSRecord) -> str:
        outcome = webhooks.handle_body(record.body)
        logger.info("notify message handled", extra={"message_id": record.message_id, "outcome": outcome})
        return outcome

    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
