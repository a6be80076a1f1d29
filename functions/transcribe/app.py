"""TranscribeFunction: SQS batches of tasks (and S3 inbox notifications) through the worker.

Powertools' BatchProcessor reports the records that raised as batch item failures, so only those
are retried. A record's ApproximateReceiveCount tells the worker when it is the last try. The
transcribe DLQ is wired to this function too (``MIDISCRIBE_TRANSCRIBE_DLQ_ARN``): its records only
make sure their tasks end FAILED, even when every attempt died of a timeout or lack of memory.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from midiscribe.service.config import Settings
from midiscribe.service.worker import Worker

logger = Logger(service="midiscribe")
tracer = Tracer(service="midiscribe")
metrics = Metrics(namespace="midiscribe", service="transcribe")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: object) -> dict:
    settings = Settings.from_env()
    worker = Worker(settings, logger=logger, metrics=metrics)
    # Always one metric, so redeliveries that do no work still publish (and show up on dashboards).
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(event.get("Records") or []))
    dead_letter_arn = settings.transcribe_dlq_arn

    def handle_record(record: SQSRecord) -> None:
        if dead_letter_arn and record.event_source_arn == dead_letter_arn:
            worker.handle_dead_letter(record.body)
            return
        receive_count = int(record.attributes.approximate_receive_count or 1)
        worker.handle_message(record.body, receive_count=receive_count)

    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
