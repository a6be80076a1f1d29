"""``--data-dir``: the local stack's S3 objects, DynamoDB items and SQS messages kept across restarts.

moto keeps everything in memory and has no snapshot of its own (its "recorder" replays every
request, pollers' receives and deletes included, which does not rebuild queues faithfully). So the
stack saves what a restart needs when it stops, and loads it into the fresh resources when it
starts: objects and items through the S3 and DynamoDB APIs, and queue messages from moto's SQS
backend in this process, because the API cannot read messages that are in flight or delayed (a
webhook retry waiting for its turn, say). A message comes back visible (work abandoned at shutdown
is retried, which the worker handles as a redelivery), keeps what remains of its delay, and
starts again from a receive count of zero. A stack killed without Ctrl-C saves nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("local_stack.state")

FORMAT_VERSION = 1
STATE_DIR = "state"
SQS_MAX_DELAY_S = 900


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set):
        return {"__set__": [_encode(item) for item in sorted(value, key=repr)]}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode(value: dict) -> Any:
    if set(value) == {"__bytes__"}:
        return base64.b64decode(value["__bytes__"])
    if set(value) == {"__set__"}:
        return set(value["__set__"])
    return value


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, default=_encode), encoding="utf-8")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), object_hook=_decode)


def _resources_of_type(template: Mapping, physical_ids: Mapping[str, str], resource_type: str) -> dict[str, str]:
    return {
        logical_id: physical_ids[logical_id]
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == resource_type and logical_id in physical_ids
    }


def _moto_queue(account_id: str, region: str, queue_url: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account_id][region].queues[queue_url.rstrip("/").rsplit("/", 1)[-1]]


class StateStore:
    """Saves and loads the local stack's data under ``directory/state``."""

    def __init__(self, directory: Path, *, template: Mapping, physical_ids: Mapping[str, str],
                 account_id: str, region: str, clients: Mapping[str, Any]):
        self.directory = Path(directory)
        self.template = template
        self.physical_ids = physical_ids
        self.account_id = account_id
        self.region = region
        self.s3 = clients["s3"]
        self.sqs = clients["sqs"]
        self.dynamodb = clients["dynamodb"]

    @property
    def state_dir(self) -> Path:
        return self.directory / STATE_DIR

    def _tables(self) -> dict[str, str]:
        return _resources_of_type(self.template, self.physical_ids, "AWS::DynamoDB::Table")

    def _buckets(self) -> dict[str, str]:
        return _resources_of_type(self.template, self.physical_ids, "AWS::S3::Bucket")

    def _queues(self) -> dict[str, str]:
        return _resources_of_type(self.template, self.physical_ids, "AWS::SQS::Queue")

    # ------------------------------------------------------------------------------------ save

    def save(self) -> dict[str, int]:
        """Write everything to a fresh directory, then swap it in, so a failed save keeps the last one."""
        staging = self.directory / f".{STATE_DIR}.saving"
        shutil.rmtree(staging, ignore_errors=True)
        counts = {"items": 0, "objects": 0, "messages": 0}
        for logical_id, table in self._tables().items():
            items = []
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
                items.extend(page.get("Items", []))
            _dump(staging / "dynamodb" / f"{logical_id}.json", items)
            counts["items"] += len(items)
        for logical_id, bucket in self._buckets().items():
            index = []
            objects_dir = staging / "s3" / logical_id / "objects"
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for summary in page.get("Contents", []):
                    key = summary["Key"]
                    stored = f"{len(index):08d}"
                    response = self.s3.get_object(Bucket=bucket, Key=key)
                    objects_dir.mkdir(parents=True, exist_ok=True)
                    with open(objects_dir / stored, "wb") as handle:
                        shutil.copyfileobj(response["Body"], handle)
                    index.append({"key": key, "file": stored, "content_type": response.get("ContentType"),
                                  "metadata": response.get("Metadata") or {}})
            _dump(staging / "s3" / logical_id / "index.json", index)
            counts["objects"] += len(index)
        now = time.time()
        for logical_id, queue_url in self._queues().items():
            messages = []
            for message in list(_moto_queue(self.account_id, self.region, queue_url)._messages):
                messages.append({
                    "body": message.body,
                    "attributes": message.message_attributes,
                    "delay_s": max(0.0, float(message.delayed_until or 0) - now),
                })
            _dump(staging / "sqs" / f"{logical_id}.json", messages)
            counts["messages"] += len(messages)
        _dump(staging / "manifest.json", {"format_version": FORMAT_VERSION, "saved_at": now, **counts})
        previous = self.directory / f".{STATE_DIR}.previous"
        shutil.rmtree(previous, ignore_errors=True)
        if self.state_dir.exists():
            os.replace(self.state_dir, previous)
        os.replace(staging, self.state_dir)
        shutil.rmtree(previous, ignore_errors=True)
        return counts

    # ------------------------------------------------------------------------------------ load

    def load(self) -> dict[str, int] | None:
        """Put saved data into the freshly created resources; None when nothing was saved yet."""
        manifest_path = self.state_dir / "manifest.json"
        if not manifest_path.is_file():
            return None
        manifest = _load(manifest_path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{self.state_dir} was saved in format {manifest.get('format_version')}, this version reads "
                f"{FORMAT_VERSION}: move the directory away to start from an empty stack"
            )
        counts = {"items": 0, "objects": 0, "messages": 0}
        for logical_id, table in self._tables().items():
            path = self.state_dir / "dynamodb" / f"{logical_id}.json"
            if path.is_file():
                for item in _load(path):
                    self.dynamodb.put_item(TableName=table, Item=item)
                    counts["items"] += 1
        for logical_id, bucket in self._buckets().items():
            counts["objects"] += self._load_bucket(logical_id, bucket)
        for logical_id, queue_url in self._queues().items():
            path = self.state_dir / "sqs" / f"{logical_id}.json"
            if not path.is_file():
                continue
            for message in _load(path):
                arguments: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["body"]}
                if message.get("attributes"):
                    arguments["MessageAttributes"] = message["attributes"]
                if message.get("delay_s"):
                    arguments["DelaySeconds"] = min(SQS_MAX_DELAY_S, math.ceil(message["delay_s"]))
                self.sqs.send_message(**arguments)
                counts["messages"] += 1
        return counts

    def _load_bucket(self, logical_id: str, bucket: str) -> int:
        index_path = self.state_dir / "s3" / logical_id / "index.json"
        if not index_path.is_file():
            return 0
        # Restored inbox/ files must not be queued again as if they had just been dropped there.
        notifications = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        notifications.pop("ResponseMetadata", None)
        if any(notifications.get(kind) for kind in ("QueueConfigurations", "TopicConfigurations",
                                                    "LambdaFunctionConfigurations")):
            self.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        restored = 0
        try:
            for entry in _load(index_path):
                with open(self.state_dir / "s3" / logical_id / "objects" / entry["file"], "rb") as handle:
                    arguments: dict[str, Any] = {"Bucket": bucket, "Key": entry["key"], "Body": handle,
                                                 "Metadata": entry.get("metadata") or {}}
                    if entry.get("content_type"):
                        arguments["ContentType"] = entry["content_type"]
                    self.s3.put_object(**arguments)
                restored += 1
        finally:
            if notifications:
                self.s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifications)
        return restored
