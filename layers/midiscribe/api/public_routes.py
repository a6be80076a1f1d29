"""Routes that need no API key: the health check and signed result links (webhooks carry them)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from midiscribe.domain import outputs

from . import openapi_docs as docs
from . import responses
from .context import use_cases
from .errors import json_response

router = APIGatewayRouter()


@router.get(
    "/v1/files/<task_id>/<name>",
    summary="Follow a signed result link (as webhooks carry them): redirects to the file",
    description=(
        "The links in a webhook's payload point here. They are signed with the task owner's webhook secret "
        "and stay valid for the whole retry schedule (at least 7 days); each use redirects (302) to a "
        "short-lived presigned S3 URL. No API key is needed: the signature is the authorization."
    ),
    tags=["conversions"],
    responses={
        302: {
            "description": "Redirect to a presigned S3 URL of the file, valid for a few minutes",
            "headers": {"Location": {"description": "The presigned S3 URL", "schema": {"type": "string"}}},
        },
        **docs.errors(400, 403, 404, 429, 500),
    },
    openapi_extensions=docs.PUBLIC,
)
def follow_file_link(
    task_id: Annotated[str, Path(description="The task whose file the link names")],
    name: Annotated[str, Path(description=f"The file: one of {', '.join(outputs.LINKABLE)}")],
    expires: Annotated[int, Query(ge=0, description="Until when the link is valid, in epoch seconds")],
    signature: Annotated[str, Query(min_length=1, description="The link's signature (URL-safe base64)")],
):
    location = use_cases(router).result_links.location(task_id, name, expires=str(expires), signature=signature)
    # Each use gets its own short-lived URL, so the redirect must not be cached.
    return Response(status_code=302, headers={"Location": location, "Cache-Control": "no-store"}, body="")


@router.get(
    "/health",
    summary="Liveness check (no authentication, touches nothing external)",
    tags=["service"],
    responses=docs.ok(responses.HealthResponse, "The API is up"),
    openapi_extensions=docs.PUBLIC,
)
def health():
    return json_response(200, responses.health())

