"""Drive TranscribeFunction as Lambda's SQS event source mapping would, against moto queues."""

from __future__ import annotations

import importlib.util
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import soundfile

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def load_function(name: str) -> ModuleType:
    module_name = f"midiscribe_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPOSITORY_ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "TranscribeFunction"
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:TranscribeFunction"
    aws_request_id: str = "11111111-1111-1111-1111-111111111111"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


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
