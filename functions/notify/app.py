"""NotifyFunction: SQS batches from the notify queue; each record is one webhook attempt (or a wait).

The work lives in ``midiscribe.webhooks.notifier``; this handler only feeds it records and reports
the ones that raised as batch item failures, so SQS retries just those.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from midiscribe.service.config import Settings
from midiscribe.webhooks.notifier import WebhookNotifier, notifier_from_settings

# Named "midiscribe": the webhook modules' standard-library loggers (midiscribe.webhooks.*) are its
# children, so each attempt's status and reply excerpt come out as the same structured JSON lines.
logger = Logger(service="midiscribe")


def _handle_batch(event: dict[str, Any], context: Any, notifier: WebhookNotifier) -> dict[str, Any]:
    def record_handler(record: SQSRecord) -> str:
        outcome = notifier.handle_body(record.body)
        logger.info("notify message handled", extra={"message_id": record.message_id, "outcome": outcome})
        return outcome

    # A processor per invocation: it holds the batch's results, which must not leak between batches.
    # A whole batch failing is reported like a partial failure (every record listed) rather than
    # raised, so the response shape is always the same; each record's error is logged either way.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Built per invocation from the environment: cheap next to an HTTP attempt, and the settings
    # (and the endpoints the local stack and tests point boto3 at) are always the current ones.
    notifier = notifier_from_settings(Settings.from_env())
    return _handle_batch(event, context, notifier)
