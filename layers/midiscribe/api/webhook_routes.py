"""Webhook routes, kept apart from the main routes so the webhook code can be read in one place.

``api/routes.py`` includes this router into the service's resolver.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, Field

from midiscribe.api.models import ErrorResponse
from midiscribe.service.config import Settings
from midiscribe.webhooks.notifier import RedeliveryError, notifier_from_settings

router = APIGatewayRouter()


class RedeliveryResponse(BaseModel):
    success: Literal[True] = True
    task_id: str
    webhook_id: str = Field(description="The event's webhook-id header: the same as in earlier deliveries.")
    event: Literal["task.completed", "task.failed"]
    webhook_status: Literal["pending"] = "pending"
    message: str = Field(examples=["Webhook redelivery queued"])


def _documented(status: int, model: type[BaseModel], description: str) -> dict:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def _caller_key_id() -> str:
    """The API key id the authorizer put in the request context ('' when there is none)."""
    authorizer = router.current_event.request_context.authorizer
    return str(authorizer.get("key_id") or authorizer.get("principalId") or "") if authorizer else ""


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _error(status: int, code: str, message: str) -> Response:
    """The API's one error envelope."""
    return _json(status, {"success": False, "error": message, "code": code})


@router.post(
    "/v1/tasks/<task_id>/webhook/redeliver",
    summary="Send a finished task's webhook again",
    description=(
        "Queues a fresh series of delivery attempts (the whole retry schedule) for the task's event, "
        "with the same webhook-id as before so receivers can deduplicate. Replaces any series still "
        "retrying. Only the API key that created the task may do this."
    ),
    tags=["webhooks"],
    responses={
        **_documented(202, RedeliveryResponse, "Redelivery queued"),
        **_documented(401, ErrorResponse, "No API key"),
        **_documented(404, ErrorResponse, "No such task for this API key"),
        **_documented(409, ErrorResponse, "The task has no webhook_url, or has not finished yet"),
    },
)
def redeliver_webhook(task_id: str):
    owner_id = _caller_key_id()
    if not owner_id:
        return _error(401, "UNAUTHORIZED", "No API key: send it in the Authorization header.")
    try:
        redelivery = notifier_from_settings(Settings.from_env()).redeliver(task_id, owner_id=owner_id)
    except RedeliveryError as error:
        return _error(error.http_status, error.code, error.message)
    body = RedeliveryResponse(
        task_id=redelivery.task_id,
        webhook_id=redelivery.webhook_id,
        event=redelivery.event,
        message="Webhook redelivery queued",
    )
    return _json(202, body.model_dump())
