"""The explorer page as the API serves it: public routes, content types, caching, the CSP, what ships."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from apigw_events import LambdaContext, load_function, rest_event

from midiscribe.api import explorer_routes
from midiscribe.local.resources import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "midiscribe" / "api"
ASSETS = PACKAGE / explorer_routes.ASSET_FOLDER


def serve(path: str, *, headers: dict[str, str] | None = None, domain: str = "127.0.0.1:3000",
          stage: str = "local", method: str = "GET") -> dict:
    """The submit function's answer to a GET (or ``method``) without any API key (as public routes get it)."""
    event = rest_event(method, path, headers=headers, key_id=None)
    event["requestContext"].update(domainName=domain, stage=stage, path=f"/{stage}{path}")
    response = load_function("submit").lambda_handler(event, LambdaContext())
    merged = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = values[-1]
    return {"status": response["statusCode"], "headers": merged, "body": response.get("body") or ""}


@pytest.fixture
def stack(aws_stack):
    return aws_stack


def test_root_redirects_to_the_page_under_the_stage_on_api_gateways_own_host(stack) -> None:
    local = serve("/")
    assert local["status"] == 302 and local["headers"]["location"] == "/explorer"
    deployed = serve("/", domain="abc123.execute-api.eu-west-1.amazonaws.com", stage="prod")
    assert deployed["headers"]["location"] == "/prod/explorer"
    custom = serve("/", domain="midi.example.com", stage="prod")
    assert custom["headers"]["location"] == "/explorer"


def test_page_is_public_html_with_a_policy_that_allows_only_itself_and_the_bucket(stack) -> None:
    page = serve("/explorer")
    assert page["status"] == 200
    headers = page["headers"]
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache" and headers["etag"].startswith('"')
    assert headers["x-content-type-options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    # In-process moto presigns against S3's real endpoint: the bucket's virtual host.
    bucket_origin = f"https://{stack.bucket}.s3.amazonaws.com"
    assert policy["connect-src"].split() == ["'self'", bucket_origin]
    assert policy["media-src"].split() == ["'self'", "blob:", bucket_origin]
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert '<script type="module" src="explorer/app.js">' in page["body"]


def test_a_kept_copy_is_revalidated_without_sending_the_file_again(stack) -> None:
    first = serve("/explorer/app.js")
    again = serve("/explorer/app.js", headers={"If-None-Match": first["headers"]["etag"]})
    assert again["status"] == 304 and again["body"] == ""
    assert again["headers"]["etag"] == first["headers"]["etag"]
    changed = serve("/explorer/app.js", headers={"If-None-Match": '"something-else"'})
    assert changed["status"] == 200 and changed["body"] == first["body"]
    page = serve("/explorer")
    assert serve("/explorer", headers={"If-None-Match": page["headers"]["etag"]})["status"] == 304


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("roll.js", "text/javascript; charset=utf-8"),
     ("style.css", "text/css; charset=utf-8"), ("icon.svg", "image/svg+xml")],
)
def test_assets_have_their_content_types(stack, name: str, content_type: str) -> None:
    answer = serve(f"/explorer/{name}")
    assert answer["status"] == 200 and answer["headers"]["content-type"] == content_type
    assert answer["body"] == (ASSETS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["nothing.js", "explorer_routes.py", "index.html", "..", "%2e%2e%2fmodels.py"])
def test_anything_else_under_explorer_is_404_in_the_error_envelope(stack, name: str) -> None:
    answer = serve(f"/explorer/{name}")
    assert answer["status"] == 404
    assert '"success":false' in answer["body"].replace(" ", "") and "/explorer" in answer["body"]


@pytest.mark.parametrize("path", ["/explorer", "/explorer/app.js", "/", "/health", "/openapi.json"])
def test_head_is_get_without_the_body_on_every_public_page(stack, path: str) -> None:
    # Link checkers and uptime monitors send HEAD; it was 405 everywhere but /health.
    got, head = serve(path), serve(path, method="HEAD")
    assert head["status"] == got["status"] in (200, 302) and head["body"] == ""
    for name in ("content-type", "etag", "location", "cache-control"):
        assert head["headers"].get(name) == got["headers"].get(name), name


def test_head_on_a_keyed_route_is_refused_as_its_get_is_and_405_names_it(stack) -> None:
    refused = serve("/v1/byId", method="HEAD")
    assert refused["status"] == 401 and refused["body"] == ""
    wrong = serve("/explorer", method="PUT")
    assert wrong["status"] == 405 and wrong["headers"]["allow"] == "GET, HEAD"
    assert serve("/v1/audio_to_midi", method="HEAD")["status"] == 405  # a POST-only path has no GET to run


def test_a_trailing_slash_leads_back_to_the_page_so_its_relative_links_resolve(stack) -> None:
    answer = serve("/explorer/")
    assert answer["status"] == 302 and answer["headers"]["location"] == "../explorer"


def test_everything_the_page_loads_is_shipped_and_served() -> None:
    page = (ASSETS / explorer_routes.PAGE).read_text(encoding="utf-8")
    linked = set(re.findall(r'(?:src|href)="explorer/([^"]+)"', page))
    imported = set()
    for module in ASSETS.glob("*.js"):
        imported |= set(re.findall(r'from "\./([^"]+)"', module.read_text(encoding="utf-8")))
    served = set(explorer_routes.static_files())
    assert {"app.js", "style.css", "icon.svg"} <= linked
    assert linked | imported <= served
    assert {path.name for path in ASSETS.iterdir()} == served


def test_the_page_files_are_package_data_so_a_built_package_carries_them() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = setuptools["package-data"]["midiscribe.api"]
    for path in ASSETS.iterdir():
        relative = path.relative_to(PACKAGE).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), f"{relative} is not package data"


def test_browsers_may_read_and_upload_with_presigned_links() -> None:
    template = load_template(ROOT / "template.yaml")
    rules = template["Resources"]["DataBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert any({"GET", "POST"} <= set(rule["AllowedMethods"]) for rule in rules)
