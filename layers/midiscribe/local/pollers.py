"""SQS event source mappings, locally: poll a queue, invoke the function with Lambda's event, settle.

Lambda's poller for an SQS event source receives up to ``BatchSize`` messages (the queue's own
visibility timeout hides them meanwhile), invokes the function with one event holding them all,
deletes the batch when the invocation succeeds, and leaves the messages to reappear when it fails.
With ``ReportBatchItemFailures`` only the messages the function names in ``batchItemFailures`` are
left; a response naming a message that was not in the batch fails the whole batch. The queue's
redrive policy moves a message that has been received ``maxReceiveCount`` times to its DLQ; moto
does that on receive like SQS does, so nothing here needs to. Concurrency is a number of workers
per queue, each running that loop, like a function's concurrency limit.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger("local_stack.pollers")

# A short long-poll keeps shutdown prompt while still not spinning on an empty queue.
RECEIVE_WAIT_SECONDS = 1
SQS_MAX_MESSAGES_PER_RECEIVE = 10


def sqs_event_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict:
    """One record of Lambda's SQS event for a message as ``ReceiveMessage`` returned it."""
    attributes = {name: str(value) for name, value in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
        if "StringValue" in value:
            converted["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        message_attributes[name] = converted
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(response: Any, batch_ids: Iterable[str], *, report_batch_item_failures: bool) -> set[str]:
    """Which messages of a batch stay on the queue after the function returned ``response``."""
    batch_ids = set(batch_ids)
    if not report_batch_item_failures or response is None:
        return set()
    if not isinstance(response, dict):
        return batch_ids
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return batch_ids
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            # Lambda treats a response it cannot trust as a failure of the whole batch.
            return batch_ids
        failed.add(identifier)
    return failed


class SqsPoller:
    """Feeds one queue to one function with ``workers`` concurrent invocations."""

    def __init__(
        self,
        *,
        name: str,
        invoke: Callable[[dict], Any],
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        batch_size: int = 10,
        maximum_batching_window_s: float = 0.0,
        report_batch_item_failures: bool = False,
        workers: int = 1,
        receive_wait_seconds: int = RECEIVE_WAIT_SECONDS,
    ):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if not 1 <= batch_size <= 10_000:
            raise ValueError(f"batch size must be between 1 and 10000, got {batch_size}")
        self.name = name
        self._invoke = invoke
        self._sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.batch_size = batch_size
        self.maximum_batching_window_s = maximum_batching_window_s
        self.report_batch_item_failures = report_batch_item_failures
        self.workers = workers
        self._receive_wait_seconds = receive_wait_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop receiving; batches already being processed run to completion unless abandoned."""
        self._stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the workers; False when some are still busy after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    @property
    def busy(self) -> int:
        return self._busy

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = self._receive_batch()
            except Exception as error:  # noqa: BLE001 - keep polling through a restarting endpoint
                if self._stopping.is_set():
                    return
                log.warning("%s: receiving from %s failed (%s); retrying", self.name, self.queue_url, error)
                self._stopping.wait(1.0)
                continue
            if batch:
                with self._busy_lock:
                    self._busy += 1
                try:
                    self.process(batch)
                finally:
                    with self._busy_lock:
                        self._busy -= 1

    def _receive(self, count: int, wait_seconds: int) -> list[dict]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(SQS_MAX_MESSAGES_PER_RECEIVE, count),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages") or []

    def _receive_batch(self) -> list[dict]:
        batch = self._receive(self.batch_size, self._receive_wait_seconds)
        if not batch:
            return batch
        # Like Lambda: once messages arrive, gather more for up to the batching window, then go.
        window_ends = time.monotonic() + self.maximum_batching_window_s
        while len(batch) < self.batch_size and not self._stopping.is_set():
            remaining = window_ends - time.monotonic()
            wait = min(self._receive_wait_seconds, math.ceil(remaining)) if remaining > 0 else 0
            messages = self._receive(self.batch_size - len(batch), wait)
            batch.extend(messages)
            if not messages and remaining <= 0:
                break
        return batch

    def process(self, messages: list[dict]) -> set[str]:
        """Invoke the function with ``messages``; delete the ones that succeeded; return the failed ids."""
        event = {"Records": [sqs_event_record(m, self.queue_arn, self.region) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        try:
            response = self._invoke(event)
        except Exception:  # noqa: BLE001 - a raised error fails the invocation, so the whole batch
            log.exception("%s: invocation with %d message(s) failed; they reappear after the visibility timeout",
                          self.name, len(messages))
            return set(ids)
        failed = failed_message_ids(response, ids, report_batch_item_failures=self.report_batch_item_failures)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_MESSAGES_PER_RECEIVE):
            chunk = done[start:start + SQS_MAX_MESSAGES_PER_RECEIVE]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for problem in result.get("Failed") or []:
                log.warning("%s: could not delete a processed message: %s", self.name, problem.get("Message"))
        if failed:
            log.info("%s: %d of %d message(s) failed and will be retried after the visibility timeout",
                     self.name, len(failed), len(messages))
        return failed
