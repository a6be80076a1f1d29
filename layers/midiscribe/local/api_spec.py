"""What the template says about its REST API: routes, authorizer, binary media types, gateway responses.

Read from the functions' ``Api`` events and the ``AWS::Serverless::Api`` resource, with values
evaluated by the template's one evaluator, so the local API Gateway follows the template.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .intrinsics import TemplateEvaluator
from .template import TemplateError, logical_id_of

API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# What AWS Lambda takes in one synchronous invocation: the proxy event as JSON, the body base64-encoded when
# it is binary (x 4/3). A multipart upload over about 4.5 MB passes API Gateway and fails here.
LAMBDA_MAX_REQUEST_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    """One ``Api`` event: a method and resource path mapped to a function."""

    method: str
    resource: str
    function_id: str
    authorized: bool

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.method not in ("ANY", method):
            return None
        found = _resource_pattern(self.resource).fullmatch(path)
        if found is None:
            return None
        return {name.rstrip("+"): unquote(value) for name, value in zip(_parameter_names(self.resource), found.groups(), strict=True)}


def _parameter_names(resource: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", resource)


def _resource_pattern(resource: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", resource):
        if part.startswith("{") and part.endswith("+}"):
            pattern += "(.+)"
        elif part.startswith("{"):
            pattern += "([^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern)


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_id: str
    payload_type: str  # TOKEN or REQUEST
    identity_headers: tuple[str, ...]
    validation_expression: str | None = None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    templates: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


# API Gateway's own defaults, used for any type the template does not customise.
DEFAULT_GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "AUTHORIZER_FAILURE": (500, None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, f"HTTP content length exceeded {API_GATEWAY_MAX_PAYLOAD_BYTES} bytes."),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}


@dataclass(frozen=True)
class ApiSpec:
    """The REST API of the template: routes, authorizer, binary media types, gateway responses."""

    routes: tuple[Route, ...]
    stage: str = "local"
    binary_media_types: tuple[str, ...] = ()
    authorizer: AuthorizerSpec | None = None
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)

    def is_binary(self, content_type: str | None) -> bool:
        if not content_type:
            return False
        media_type = content_type.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(media_type, pattern.lower()) for pattern in self.binary_media_types)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        # Literal segments win over parameters and greedy paths, as in API Gateway.
        candidates = []
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                greedy = "+}" in route.resource
                candidates.append(((greedy, len(parameters), route.method == "ANY"), route, parameters))
        if not candidates:
            return None
        candidates.sort(key=lambda item: item[0])
        return candidates[0][1], candidates[0][2]


def _strip_quotes(value: Any) -> str | None:
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return None  # mapping expressions (method.request.header.X) have no meaning outside AWS


def api_spec(template: dict, *, stage: str | None = None) -> ApiSpec:
    """Read the API's routes and configuration from the template."""
    resources = template["Resources"]
    evaluator = TemplateEvaluator(template)
    apis = {lid: res.get("Properties") or {} for lid, res in resources.items() if res.get("Type") == "AWS::Serverless::Api"}
    routes: list[Route] = []
    api_id: str | None = None
    for function_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            rest_api = logical_id_of(properties.get("RestApiId"))
            api_id = api_id or rest_api
            api_properties = apis.get(rest_api or "", {})
            default_authorizer = ((api_properties.get("Auth") or {}).get("DefaultAuthorizer"))
            authorizer = (properties.get("Auth") or {}).get("Authorizer", default_authorizer)
            routes.append(
                Route(
                    method=str(properties.get("Method", "ANY")).upper(),
                    resource=str(properties["Path"]),
                    function_id=function_id,
                    authorized=bool(authorizer) and authorizer != "NONE",
                )
            )
    if not routes:
        raise TemplateError("template.yaml declares no Api events: nothing for the local API to serve")
    api = apis.get(api_id or "", next(iter(apis.values()), {}))
    auth = api.get("Auth") or {}
    authorizer_spec = None
    default_name = auth.get("DefaultAuthorizer")
    authorizers = auth.get("Authorizers") or {}
    if any(route.authorized for route in routes):
        name = default_name or next(iter(authorizers), None)
        definition = authorizers.get(name or "")
        if definition is None:
            raise TemplateError(f"routes need the authorizer {name!r} but the API's Auth.Authorizers does not define it")
        function_id = logical_id_of(definition.get("FunctionArn"))
        if function_id is None:
            raise TemplateError(f"authorizer {name!r} has no FunctionArn: !GetAtt <Function>.Arn")
        identity = definition.get("Identity") or {}
        payload_type = str(definition.get("FunctionPayloadType", "TOKEN")).upper()
        headers = tuple(identity.get("Headers") or ([identity["Header"]] if identity.get("Header") else ["Authorization"]))
        authorizer_spec = AuthorizerSpec(
            name=str(name),
            function_id=function_id,
            payload_type=payload_type,
            identity_headers=headers,
            validation_expression=identity.get("ValidationExpression"),
        )
    gateway_responses = {}
    for response_type, definition in (api.get("GatewayResponses") or {}).items():
        default_status = DEFAULT_GATEWAY_RESPONSES.get(response_type, (500, None))[0]
        header_values = ((definition.get("ResponseParameters") or {}).get("Headers")) or {}
        gateway_responses[response_type] = GatewayResponse(
            status=int(evaluator.resolve(definition.get("StatusCode", default_status))),
            templates=dict(definition.get("ResponseTemplates") or {}),
            headers={name: text for name, value in header_values.items() if (text := _strip_quotes(value)) is not None},
        )
    binary = tuple(str(t).replace("~1", "/") for t in api.get("BinaryMediaTypes") or ())
    stage_name = stage or evaluator.resolve(api.get("StageName", "local"))
    return ApiSpec(
        routes=tuple(routes),
        stage=str(stage_name if isinstance(stage_name, str) else "local"),
        binary_media_types=binary,
        authorizer=authorizer_spec,
        gateway_responses=gateway_responses,
    )
