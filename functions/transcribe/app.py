"""TranscribeFunction: SQS batches of tasks (and S3 inbox notifications) through the worker.

Powertools' BatchProcessor reports the records that raised as batch item failures, so only those
are retried. A record's ApproximateReceiveCount tells the worker when it is the last try. The
transcribe DLQ is wired to this function too (``MIDISCRIBE_TRANSCRIBE_DLQ_ARN``): its records only
make sure their tasks end FAILED, even when every attempt died of a timeout or lack of memory.
This handler is where the worker's steps are wired to this deployment's table, bucket and queues.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from midiscribe import net
from midiscribe.aws.lambda_logs import with_lambda_context
from midiscribe.aws.queues import MessageQueue
from midiscribe.aws.storage import Storage
from midiscribe.aws.tasks import TaskRepository
from midiscribe.service.config import Settings
from midiscribe.service.worker import Worker, build_worker

logger = Logger(service="midiscribe")
tracer = Tracer(service="midiscribe")
# Ephemeral: Powertools' Metrics keeps its metric set in a class attribute that every instance shares, so
# two environments of this function in one process (the local stack's pollers run them side by side)
# flushed each other's set, and one failed ("dictionary changed size during iteration"). In Lambda
# there is one instance per process either way.
metrics = EphemeralMetrics(namespace="midiscribe", service="transcribe")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def transcribe(*args: Any, **kwargs: Any) -> Any:
    # The engine is imported on first use: loading numpy and onnxruntime is the cold start's largest part.
    from midiscribe import engine

    return engine.transcribe(*args, **kwargs)


def worker(settings: Settings, *, log: Any = logger, metrics: Any = metrics) -> Worker:
    """The worker on this deployment's AWS resources (boto3 clients are shared per process)."""
    return build_worker(
        settings,
        tasks=TaskRepository(settings.tasks_table),
        storage=Storage(settings.bucket),
        notify_queue=MessageQueue(settings.notify_queue_url),
        transcribe=transcribe,
        download=net.download,
        log=log,
        metrics=metrics,
    )


@with_lambda_context(logger)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    settings = Settings.from_env()
    work = worker(settings)
    # Always one metric, so redeliveries that do no work still publish (and show up on dashboards).
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(event.get("Records") or []))
    dead_letter_arn = settings.transcribe_dlq_arn

    def handle_record(record: SQSRecord) -> None:
        if dead_letter_arn and record.event_source_arn == dead_letter_arn:
            work.handle_dead_letter(record.body)
            return
        receive_count = int(record.attributes.approximate_receive_count or 1)
        work.handle_message(record.body, receive_count=receive_count)

    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
