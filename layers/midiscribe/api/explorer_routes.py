"""The explorer page: ``GET /`` and ``GET /explorer`` serve it, ``GET /explorer/<asset>`` its modules and styles.

The page is static: the files in ``explorer/`` beside this module (HTML, ES modules, CSS, an icon), read
from the package once per process. It is public like /swagger; in the browser it calls the API with the
key the user pastes. Its Content-Security-Policy lets it run only its own scripts and talk only to the
API (its own origin) and the bucket its presigned links point at, which the server learns by presigning.
Every file carries an ETag and ``Cache-Control: no-cache``: browsers keep a copy and revalidate it, so a
deployment never leaves a stale module next to a new page.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from midiscribe.domain.errors import NotFoundError

from .context import use_cases

router = APIGatewayRouter()

ASSET_FOLDER = "explorer"
PAGE = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CACHE_CONTROL = "no-cache"
# blob: plays the file the user just picked, from the browser's memory.
CSP_TEMPLATE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self' {bucket}; media-src 'self' blob: {bucket}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class StaticFile:
    body: str
    content_type: str
    etag: str


@functools.cache
def static_files() -> dict[str, StaticFile]:
    """The page's files by name, as shipped in the package (only the types above are served)."""
    folder = resources.files("midiscribe.api").joinpath(ASSET_FOLDER)
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in CONTENT_TYPES:
            body = entry.read_text(encoding="utf-8")
            etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
            files[entry.name] = StaticFile(body=body, content_type=CONTENT_TYPES[suffix], etag=etag)
    if PAGE not in files:
        raise RuntimeError(f"the explorer's {PAGE} is missing from the package: reinstall midiscribe")
    return files


def content_security_policy(bucket_origins: list[str]) -> str:
    return CSP_TEMPLATE.format(bucket=" ".join(bucket_origins)).replace("  ", " ").replace(" ;", ";")


def _stage_prefix() -> str:
    """The path the routes sit under in the browser's address bar.

    On API Gateway's own host the stage is the first path segment; behind a custom domain, and on the
    local stack, the routes sit at the root.
    """
    context = router.current_event.request_context
    host = context.domain_name or ""
    return f"/{context.stage}" if ".execute-api." in host and context.stage else ""


def _serve(file: StaticFile, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": file.etag, "X-Content-Type-Options": "nosniff",
               **(extra_headers or {})}
    sent = router.current_event.headers.get("if-none-match") or ""
    if file.etag in (tag.strip() for tag in sent.split(",")):
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=200, content_type=file.content_type, headers=headers, body=file.body)


@router.get("/", include_in_schema=False)
def explorer_root():
    # A redirect rather than the page itself: the page's relative links must resolve under /explorer.
    location = f"{_stage_prefix()}/explorer"
    return Response(status_code=302, headers={"Location": location, "Cache-Control": CACHE_CONTROL}, body="")


@router.get("/explorer", include_in_schema=False)
def explorer_page():
    if router.current_event.path.endswith("/"):
        # /explorer/ would make the page's relative links resolve one folder too deep.
        return Response(status_code=302, headers={"Location": "../explorer"}, body="")
    page = static_files()[PAGE]
    origins = use_cases(router).lookup.storage_origins()
    policy = content_security_policy(origins)
    # The policy is part of what the browser keeps, so it is part of the validator too.
    etag = '"' + hashlib.sha256((page.etag + policy).encode("utf-8")).hexdigest()[:32] + '"'
    served = StaticFile(body=page.body, content_type=page.content_type, etag=etag)
    return _serve(served, {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"})


@router.get("/explorer/<asset>", include_in_schema=False)
def explorer_asset(asset: str):
    file = static_files().get(asset) if asset != PAGE else None
    if file is None:
        raise NotFoundError(
            f"The explorer has no file {asset[:80]!r}: open /explorer for the page.", "ROUTE_NOT_FOUND"
        )
    return _serve(file)
