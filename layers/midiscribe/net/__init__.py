"""net: outbound HTTP to user-supplied URLs without letting them reach our own network.

A webhook_url or audio_url is chosen by whoever holds an API key, and the function that calls it
runs inside an AWS account: a URL pointing at 169.254.169.254 (the instance metadata service), at
localhost or at a VPC address would turn the service into a proxy into that account (SSRF). So:

- only ``https`` (``http`` when the stack is configured for local development);
- no ``user:password@`` in the URL (credentials would be sent to a host we do not vouch for, and
  ``https://trusted.com@evil.example`` is a classic way to make a URL look like something else);
- the host name is resolved once, *every* address in the answer is checked, and the request is
  sent to one of those checked addresses; the name is never resolved again, so a DNS answer that
  changes between the check and the connection (DNS rebinding) changes nothing;
- a request (a webhook) never follows a redirect; a download (an ``audio_url``) follows at most five,
  each to a URL checked exactly as the first was (a public host could redirect to a private one);
- response bodies are read only up to a cap, with timeouts.

Modules: ``addresses`` (which addresses are refused and why), ``urls`` (check a URL, resolve its
host once), ``connections`` (connect to a checked address, with a deadline), ``client`` (one
request, or a download to a file). The service uses it for ``audio_url``, the webhooks for delivery.
"""

from .client import DownloadCancelled, DownloadError, Response, download, request
from .connections import USER_AGENT, Cancellation, RequestError
from .urls import Resolver, SafeTarget, UnsafeUrlError, check_url

__all__ = [
    "USER_AGENT",
    "Cancellation",
    "DownloadCancelled",
    "DownloadError",
    "RequestError",
    "Resolver",
    "Response",
    "SafeTarget",
    "UnsafeUrlError",
    "check_url",
    "download",
    "request",
]
