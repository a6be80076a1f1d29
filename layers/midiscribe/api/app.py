"""The HTTP API: one Powertools resolver ``app`` with every route, its OpenAPI document and swagger.

Routes live in routers by family (``webhook_routes``, ``public_routes``, ``musicgpt_routes``,
``kie_routes``); each reads its request with the request models, calls a use case, and renders
the answer with the response models. Errors are answered in one place (``errors``); every POST
honours an Idempotency-Key (``idempotency``).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

import midiscribe

from . import explorer_routes, kie_routes, musicgpt_routes, public_routes, webhook_routes
from .errors import allowed_methods, register_error_handlers
from .idempotency import idempotent_posts
from .openapi_docs import ApiResolver

API_TITLE = "midiscribe"
API_DESCRIPTION = (
    "Self-hostable audio-to-MIDI API. Submit audio (upload, URL or S3 path), poll /v1/byId or receive a "
    "signed webhook, download the MIDI, sonified WAV and note events. Authenticate with the "
    "Authorization header: the raw API key or 'Bearer <key>'."
)
SECURITY_SCHEME = "ApiKeyAuth"

app = ApiResolver(enable_validation=True)
app.configure_openapi(
    title=API_TITLE,
    version=midiscribe.__version__,
    description=API_DESCRIPTION,
    security_schemes={SECURITY_SCHEME: APIKey(name="Authorization", in_=APIKeyIn.header)},
    security=[{SECURITY_SCHEME: []}],
)
app.enable_swagger(path="/swagger")
for routes in (webhook_routes, public_routes, musicgpt_routes, kie_routes, explorer_routes):
    app.include_router(routes.router)
app.use(middlewares=[idempotent_posts])
register_error_handlers(app)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


def openapi_json() -> str:
    """The OpenAPI document, exactly as /swagger serves it."""
    return app.get_openapi_json_schema()


def resolve(event: dict, context: object) -> dict:
    """The API's answer to an API Gateway proxy event. HEAD on any path that takes GET is that GET without
    its body (RFC 9110): uptime checks and link checkers send it, to the explorer's page as much as to /health."""
    if event.get("httpMethod") == "HEAD" and "GET" in allowed_methods(app, event.get("path") or ""):
        answer = app.resolve({**event, "httpMethod": "GET"}, context)
        return {**answer, "body": "", "isBase64Encoded": False}
    return app.resolve(event, context)


__all__ = ["app", "openapi_json", "resolve"]
