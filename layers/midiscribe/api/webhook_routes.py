"""Webhook routes: send a finished task's webhook again."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from . import openapi_docs as docs
from . import responses
from .context import caller, use_cases
from .errors import json_response

router = APIGatewayRouter()


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
        **docs.ok(responses.RedeliveryResponse, "Redelivery queued", status=202),
        **docs.errors(401, 404, 409, descriptions={
            401: "No API key",
            404: "No such task for this API key",
            409: "The task has no webhook_url, or has not finished yet",
        }),
    },
)
def redeliver_webhook(task_id: str):
    owner_id = caller(router)
    redelivery = use_cases(router).redelivery.redeliver(task_id, owner_id=owner_id)
    return json_response(202, responses.redelivery(redelivery))
