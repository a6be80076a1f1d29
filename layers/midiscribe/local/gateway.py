"""A local API Gateway: routing, the Lambda authorizer and its policy, the integration's time limit,
and the responses API Gateway produces itself (401, 403, 413, 502, 504) from the template's
``GatewayResponses`` when it declares them, API Gateway's defaults otherwise.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from .api_spec import (
    API_GATEWAY_MAX_PAYLOAD_BYTES,
    DEFAULT_GATEWAY_RESPONSES,
    LAMBDA_MAX_REQUEST_BYTES,
    ApiSpec,
    GatewayResponse,
    Route,
)
from .functions import LocalFunction
from .proxy import HttpRequest, HttpResponse, build_proxy_event, header, method_arn, proxy_result_to_http

log = logging.getLogger("local_stack.api")

# REST APIs give up on an integration after 29 s and answer 504, whatever the function still does.
API_GATEWAY_INTEGRATION_TIMEOUT_S = 29.0


def _policy_allows(policy: Any, resource_arn: str) -> bool | None:
    """True if allowed, False if denied (explicitly or by default), None if the policy is malformed."""
    if not isinstance(policy, dict):
        return None
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            return None
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", str(a)) for a in actions):
            continue
        targets = statement.get("Resource", [])
        targets = [targets] if isinstance(targets, str) else targets
        if not any(fnmatch.fnmatchcase(resource_arn, str(t)) for t in targets):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def _stringify(value: Any) -> Any:
    # REST APIs hand the authorizer's context to the integration with every value as a string.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)


class GatewayError(Exception):
    """A response API Gateway produces itself, named by its gateway response type."""

    def __init__(self, response_type: str, message: str | None = None):
        super().__init__(message or response_type)
        self.response_type = response_type
        self.message = message


class LocalApiGateway:
    """Serves an :class:`ApiSpec` with in-process functions (``{logical_id: LocalFunction}``)."""

    def __init__(self, api: ApiSpec, functions: Mapping[str, Any], *, region: str = "us-east-1",
                 integration_timeout_s: float = API_GATEWAY_INTEGRATION_TIMEOUT_S):
        self.api = api
        self.functions = functions
        self.region = region
        self.integration_timeout_s = integration_timeout_s

    # The one entry point: everything API Gateway would answer itself is decided here.
    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            if len(request.body) > API_GATEWAY_MAX_PAYLOAD_BYTES:
                raise GatewayError("REQUEST_TOO_LARGE")
            path = unquote(request.raw_path.partition("?")[0])
            found = self.api.find_route(request.method, path)
            if found is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
            route, path_parameters = found
            context, api_key = None, None
            if route.authorized:
                context, api_key = self._authorize(request, route, path, path_parameters, request_id)
            event = build_proxy_event(
                self.api, request, route, path_parameters, authorizer=context, api_key=api_key, request_id=request_id
            )
            if len(json.dumps(event, ensure_ascii=False).encode("utf-8")) > LAMBDA_MAX_REQUEST_BYTES:
                # On AWS, Lambda refuses such an event before the function runs; refused here the same way,
                # so a file that works locally works when deployed. Lambda counts the event's UTF-8 bytes:
                # a text body's non-ASCII characters are not six bytes each, as escaped JSON would count them.
                raise GatewayError("REQUEST_TOO_LARGE", "The request is over AWS Lambda's 6 MB once base64-encoded.")
            return self._invoke(route.function_id, event, request_id)
        except GatewayError as error:
            return self.gateway_response(error.response_type, error.message, request_id)

    def _function(self, function_id: str) -> Callable[[dict], Any]:
        function = self.functions.get(function_id)
        if function is None:
            raise GatewayError("INTEGRATION_FAILURE", f"function {function_id} is not loaded")
        call = function.invoke if isinstance(function, LocalFunction) else function
        timeout = self.integration_timeout_s
        if isinstance(function, LocalFunction):
            timeout = min(timeout, float(function.spec.timeout_s))
        return lambda event: _call_with_deadline(call, event, timeout)

    def _authorize(
        self, request: HttpRequest, route: Route, path: str, path_parameters: Mapping[str, str], request_id: str
    ) -> tuple[dict, str | None]:
        spec = self.api.authorizer
        if spec is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        arn = method_arn(self.region, self.api.stage, request.method, path)
        identity = [header(request.headers, name) for name in spec.identity_headers]
        if any(not value for value in identity):
            # API Gateway answers 401 without calling the authorizer when the identity source is missing.
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        if spec.payload_type == "TOKEN":
            token = identity[0] or ""
            if spec.validation_expression and not re.fullmatch(spec.validation_expression, token):
                raise GatewayError("UNAUTHORIZED", "Unauthorized")
            event: dict = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
        else:
            proxy = build_proxy_event(self.api, request, route, path_parameters, request_id=request_id)
            event = {"type": "REQUEST", "methodArn": arn, **{k: proxy[k] for k in (
                "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext")}}
        started = time.monotonic()
        try:
            result = self._function(spec.function_id)(event)
        except GatewayError:
            raise
        except Exception as error:  # noqa: BLE001 - Lambda turns any raised error into a failed invocation
            if str(error) == "Unauthorized":
                raise GatewayError("UNAUTHORIZED", "Unauthorized") from None
            log.exception("authorizer %s failed", spec.function_id)
            raise GatewayError("AUTHORIZER_FAILURE") from None
        if not isinstance(result, dict) or "principalId" not in result:
            log.error("authorizer %s returned no principalId/policyDocument: %r", spec.function_id, result)
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        verdict = _policy_allows(result.get("policyDocument"), arn)
        if verdict is None:
            log.error("authorizer %s returned a malformed policy: %r", spec.function_id, result.get("policyDocument"))
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        if not verdict:
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny")
        output = {key: _stringify(value) for key, value in (result.get("context") or {}).items()}
        output["principalId"] = str(result["principalId"])
        output["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return output, result.get("usageIdentifierKey")

    def _invoke(self, function_id: str, event: dict, request_id: str) -> HttpResponse:
        try:
            result = self._function(function_id)(event)
        except GatewayError:
            raise
        except Exception:  # noqa: BLE001 - a failed invocation is a 502 for the client, a traceback for us
            log.exception("%s raised while handling %s %s", function_id, event["httpMethod"], event["path"])
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None
        try:
            return proxy_result_to_http(result, request_id)
        except ValueError as problem:
            log.error("%s returned a malformed proxy response (%s): %r", function_id, problem, result)
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None

    def protocol_error(self, status: int, response_type: str, message: str) -> HttpResponse:
        """A refusal of the HTTP server's own (before a whole request was read), as API Gateway answers its
        own 4XX refusals: the template's response for the type if it has one, else its DEFAULT_4XX."""
        return self.gateway_response(response_type, message, str(uuid.uuid4()), status=status)

    def gateway_response(self, response_type: str, message: str | None, request_id: str, *,
                         status: int | None = None) -> HttpResponse:
        default_status, default_message = DEFAULT_GATEWAY_RESPONSES.get(response_type, (status or 500, None))
        message = message if message is not None else default_message
        configured = self.api.gateway_responses.get(response_type)
        if configured is None:
            family = "DEFAULT_4XX" if 400 <= default_status < 500 or status is not None else "DEFAULT_5XX"
            fallback = self.api.gateway_responses.get(family)
            if fallback is not None:
                configured = GatewayResponse(default_status, fallback.templates, fallback.headers)
        status = configured.status if configured else default_status
        template = (configured.templates.get("application/json") if configured else None)
        if template:
            body = (
                template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", message or "")
                .replace("$context.error.responseType", response_type)
                .replace("$context.requestId", request_id)
            )
        else:
            body = json.dumps({"message": message})
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", _error_type(response_type))]
        headers += list((configured.headers if configured else {}).items())
        return HttpResponse(status, headers, body.encode("utf-8"))


def _call_with_deadline(call: Callable[[dict], Any], event: dict, timeout_s: float) -> Any:
    """Run ``call(event)``; past the deadline answer as API Gateway does and leave it running.

    Lambda would stop the function at its timeout; a thread cannot be stopped, so it finishes in
    the background and its result is dropped.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call(event)
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="lambda-invocation", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        log.error("invocation still running after %.0f s: answering 504 as API Gateway does", timeout_s)
        raise GatewayError("INTEGRATION_TIMEOUT", "Endpoint request timed out")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _error_type(response_type: str) -> str:
    return {
        "UNAUTHORIZED": "UnauthorizedException",
        "ACCESS_DENIED": "AccessDeniedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",  # nosec B105 # an error type's name
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
    }.get(response_type, "InternalServerErrorException")
