"""The tasks table: task items and their status changes, as conditional DynamoDB writes.

Every status change is an ``UpdateItem`` whose condition is the state machine's rule
(:func:`midiscribe.domain.tasks.allowed_sources`), so two workers racing on one task cannot both
win, and a finished task can never be moved back. Updates only ``SET`` the attributes they own, so
what the webhook code records on the same item (``webhook_*``) survives.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from midiscribe.domain.errors import TaskExistsError
from midiscribe.domain.tasks import InvalidTransitionError, Task, TaskStatus, allowed_sources
from midiscribe.domain.timestamps import iso_now

from . import AwsAdapter

OWNER_INDEX = "by_owner"
CONVERSION_INDEX = "by_conversion"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# DynamoDB numbers reach down to 1E-130; anything smaller in magnitude cannot be stored (boto3 raises).
_SMALLEST_DYNAMO_NUMBER = 1e-130


def _to_dynamo(value: Any) -> Any:
    """DynamoDB numbers must be Decimal; floats are converted through str to keep their digits."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # A client may send 6e-276 as an option. It is stored as the nearest number DynamoDB holds, keeping
        # its sign, so that a rule such as "greater than 0" still holds when the worker reads it back.
        if value != 0 and abs(value) < _SMALLEST_DYNAMO_NUMBER:
            value = math.copysign(_SMALLEST_DYNAMO_NUMBER, value)
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(_to_dynamo(value)) for name, value in item.items()}


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _from_dynamo(_deserializer.deserialize(value)) for name, value in item.items()}


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TaskRepository(AwsAdapter):
    """The tasks table (``MIDISCRIBE_TASKS_TABLE``): :class:`midiscribe.domain.ports.TaskStore` on DynamoDB."""

    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None):
        if not table_name:
            raise ValueError("no tasks table name: set MIDISCRIBE_TASKS_TABLE")
        self.table_name = table_name
        super().__init__(client)

    # ---- reads

    def get(self, task_id: str) -> Task | None:
        answer = self.client.get_item(
            TableName=self.table_name, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return Task.from_item(deserialize_item(item)) if item else None

    def get_by_conversion_id(self, conversion_id: str) -> Task | None:
        """One query on the by_conversion index, then a consistent read of the item itself."""
        answer = self.client.query(
            TableName=self.table_name,
            IndexName=CONVERSION_INDEX,
            KeyConditionExpression="conversion_id = :id",
            ExpressionAttributeValues={":id": {"S": conversion_id}},
            Limit=1,
        )
        items = answer.get("Items") or []
        if not items:
            return None
        return self.get(items[0]["task_id"]["S"])

    def list_by_owner(self, owner_id: str, *, limit: int = 50) -> list[Task]:
        """A key's tasks, newest first."""
        answer = self.client.query(
            TableName=self.table_name,
            IndexName=OWNER_INDEX,
            KeyConditionExpression="owner_id = :owner",
            ExpressionAttributeValues={":owner": {"S": owner_id}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Task.from_item(deserialize_item(item)) for item in answer.get("Items") or []]

    def page_by_owner(
        self, owner_id: str, *, limit: int, after: tuple[str, str] | None = None
    ) -> tuple[list[Task], tuple[str, str] | None]:
        """One page of a key's tasks, newest first, and the ``(created_at, task_id)`` the next page starts
        after (None when there is no more).

        ``after`` is what the previous page returned. One item more than asked for is read, so a page that
        ends with the key's oldest task says there is no next page instead of leading to an empty one.
        """
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "owner_id = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner_id}},
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if after is not None:
            created_at, task_id = after
            arguments["ExclusiveStartKey"] = {
                "owner_id": {"S": owner_id}, "created_at": {"S": created_at}, "task_id": {"S": task_id}
            }
        answer = self.client.query(**arguments)
        items = answer.get("Items") or []
        tasks = [Task.from_item(deserialize_item(item)) for item in items[:limit]]
        # A query also stops early at 1 MB read: LastEvaluatedKey then says there is more.
        more = len(items) > limit or bool(answer.get("LastEvaluatedKey"))
        return tasks, ((tasks[-1].created_at, tasks[-1].task_id) if more and tasks else None)

    # ---- writes

    def create(self, task: Task) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize_item(task.to_item()),
                ConditionExpression="attribute_not_exists(task_id)",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise TaskExistsError(task.task_id) from None
            raise

    def claim(self, task_id: str) -> Task:
        """IN_QUEUE or (stale) PROCESSING → PROCESSING, counting attempts."""
        now = iso_now()
        return self._transition(
            task_id,
            TaskStatus.PROCESSING,
            {"started_at": now, "status_msg": "Task is being processed"},
            add={"attempts": 1},
        )

    def complete(
        self,
        task_id: str,
        *,
        outputs: dict[str, str],
        status_msg: str,
        audio_duration_s: float | None = None,
        note_count: int | None = None,
        timings: dict[str, float] | None = None,
        model: str = "",
        model_name: str = "",
    ) -> Task:
        values: dict[str, Any] = {"outputs": outputs, "status_msg": status_msg, "finished_at": iso_now()}
        if model:
            values["model"] = model
        if model_name:
            values["model_name"] = model_name
        if audio_duration_s is not None:
            values["audio_duration_s"] = float(audio_duration_s)
        if note_count is not None:
            values["note_count"] = int(note_count)
        if timings:
            values["timings"] = {name: float(seconds) for name, seconds in timings.items()}
        return self._transition(task_id, TaskStatus.COMPLETED, values)

    def fail(self, task_id: str, *, error: str, error_code: str, status_msg: str) -> Task:
        return self._transition(
            task_id,
            TaskStatus.FAILED,
            {"error": error, "error_code": error_code, "status_msg": status_msg, "finished_at": iso_now()},
        )

    def record_progress(self, task_id: str, *, fraction: float, status_msg: str) -> bool:
        """Note how far a PROCESSING task has come; False (and nothing written) once it is no longer PROCESSING."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression="SET progress = :p, status_msg = :m, updated_at = :now",
                ConditionExpression="#status = :processing",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=serialize_item(
                    {
                        ":p": round(float(fraction), 3),
                        ":m": status_msg,
                        ":now": iso_now(),
                        ":processing": TaskStatus.PROCESSING.value,
                    }
                ),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def mark_notify_queued(self, task_id: str) -> None:
        """Remember that the finished task's notify message was sent, so a redelivery does not resend it."""
        self.client.update_item(
            TableName=self.table_name,
            Key={"task_id": {"S": task_id}},
            UpdateExpression="SET notify_queued_at = :now",
            ConditionExpression="attribute_exists(task_id)",
            ExpressionAttributeValues={":now": {"S": iso_now()}},
        )

    def _transition(
        self,
        task_id: str,
        target: TaskStatus,
        values: dict[str, Any],
        *,
        add: dict[str, int] | None = None,
    ) -> Task:
        sources = allowed_sources(target)
        names = {"#status": "status"}
        attribute_values: dict[str, Any] = {":target": target.value, ":updated": iso_now()}
        assignments = ["#status = :target", "updated_at = :updated"]
        for index, (name, value) in enumerate(values.items()):
            names[f"#a{index}"] = name
            attribute_values[f":a{index}"] = value
            assignments.append(f"#a{index} = :a{index}")
        source_tokens = []
        for index, status in enumerate(sources):
            attribute_values[f":s{index}"] = status.value
            source_tokens.append(f":s{index}")
        expression = "SET " + ", ".join(assignments)
        if add:
            increments = []
            for index, (name, amount) in enumerate(add.items()):
                names[f"#n{index}"] = name
                attribute_values[f":n{index}"] = amount
                increments.append(f"#n{index} :n{index}")
            expression += " ADD " + ", ".join(increments)
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(task_id) AND #status IN ({', '.join(source_tokens)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize_item(attribute_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                current = self.get(task_id)
                raise InvalidTransitionError(task_id, current.status if current else None, target) from None
            raise
        return Task.from_item(deserialize_item(answer["Attributes"]))

    # ---- webhook delivery state (midiscribe.webhooks). ``webhook_series`` names the current run
    # through the retry schedule; writes of an older run (replaced by a redelivery) are refused.

    _WEBHOOK_FIELDS = ("webhook_event_id", "webhook_series", "webhook_status")

    def _webhook_update(
        self, task_id: str, expression: str, values: dict[str, Any], condition: str = ""
    ) -> dict[str, Any] | None:
        """One UpdateItem on the webhook attributes; None when ``condition`` does not hold."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key={"task_id": {"S": task_id}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(task_id)" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeValues=serialize_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        item = deserialize_item(answer["Attributes"])
        return {name: item.get(name, "") for name in self._WEBHOOK_FIELDS}

    def get_webhook_state(self, task_id: str) -> dict[str, Any] | None:
        """The task's webhook_event_id, webhook_series and webhook_status ('' when unset); None if no task."""
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={"task_id": {"S": task_id}},
            ConsistentRead=True,
            ProjectionExpression="task_id, " + ", ".join(self._WEBHOOK_FIELDS),
        )
        item = answer.get("Item")
        if not item:
            return None
        values = deserialize_item(item)
        return {name: values.get(name, "") for name in self._WEBHOOK_FIELDS}

    def claim_webhook_event(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None:
        """Set the event id and first series unless already set (a repeated first message keeps the first ones)."""
        return self._webhook_update(
            task_id,
            "SET webhook_event_id = if_not_exists(webhook_event_id, :id), "
            "webhook_series = if_not_exists(webhook_series, :series), "
            "webhook_status = if_not_exists(webhook_status, :pending)",
            {":id": webhook_id, ":series": series, ":pending": "pending"},
        )

    def start_webhook_series(self, task_id: str, *, webhook_id: str, series: str) -> dict[str, Any] | None:
        """A redelivery: a new series, status pending, the event id kept (set only if it never was)."""
        return self._webhook_update(
            task_id,
            "SET webhook_event_id = if_not_exists(webhook_event_id, :id), "
            "webhook_series = :series, webhook_status = :pending",
            {":id": webhook_id, ":series": series, ":pending": "pending"},
        )

    def record_webhook_attempt(self, task_id: str, attempt: dict[str, Any], *, status: str, series: str) -> bool:
        """Append one attempt to webhook_attempts and set webhook_status; False if ``series`` was replaced."""
        return (
            self._webhook_update(
                task_id,
                "SET webhook_attempts = list_append(if_not_exists(webhook_attempts, :empty), :attempt), "
                "webhook_status = :status",
                {":empty": [], ":attempt": [attempt], ":status": status, ":series": series},
                condition="webhook_series = :series",
            )
            is not None
        )
