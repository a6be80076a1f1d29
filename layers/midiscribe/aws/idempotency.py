"""Where Powertools' idempotency utility keeps its records: the idempotency table in DynamoDB.

The API (``midiscribe.api.idempotency``) decides what a record holds; this is only its persistence,
on the process's shared, throttle-aware DynamoDB client (a throttled write becomes the API's 429).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from . import shared_client


def idempotency_store(table_name: str) -> DynamoDBPersistenceLayer:
    """The persistence layer on ``table_name`` (the template's IdempotencyTable, default attribute names)."""
    if not table_name:
        raise ValueError("no idempotency table name: set MIDISCRIBE_IDEMPOTENCY_TABLE")
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=shared_client("dynamodb"))
