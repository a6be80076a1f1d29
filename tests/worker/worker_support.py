"""Drive TranscribeFunction as Lambda's SQS event source mapping would, against moto queues."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import soundfile

from midiscribe.local.functions import LambdaContext as LocalLambdaContext
from midiscribe.local.functions import import_module_file

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported as the local stack imports it."""
    return import_module_file(REPOSITORY_ROOT / "functions" / name / "app.py")


def LambdaContext(function_name: str = "TranscribeFunction") -> LocalLambdaContext:  # noqa: N802 - reads like the class
    return LocalLambdaContext(function_name, memory_mb=3008, timeout_s=900)


@dataclass
class Delivery:
    received: int = 0
    failed_ids: list[str] = field(default_factory=list)
    response: dict = field(default_factory=dict)


def queue_arn(stack, queue_url: str) -> str:
    return stack.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def deliver(stack, queue_url: str | None = None, *, max_messages: int = 10) -> Delivery:
    """Receive a batch, invoke the handler, delete what succeeded and release what failed (visibility 0),
    as the event source mapping does with ReportBatchItemFailures."""
    queue_url = queue_url or stack.transcribe_queue_url
    event = stack.sqs_event(queue_url, max_messages=max_messages)
    records = event["Records"]
    if not records:
        return Delivery()
    response = load_function("transcribe").lambda_handler(event, LambdaContext())
    failed = [item["itemIdentifier"] for item in response.get("batchItemFailures", [])]
    for record in records:
        if record["messageId"] in failed:
            stack.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"],
                                                VisibilityTimeout=0)
        else:
            stack.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
    return Delivery(received=len(records), failed_ids=failed, response=response)


def tiny_wav(seconds: float = 0.6, frequency: float = 440.0, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(buffer, 0.5 * np.sin(2 * np.pi * frequency * t), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
