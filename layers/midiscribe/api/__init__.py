"""The HTTP edge: request bodies in (``body``, ``requests``), answers out (``responses``), OpenAPI
from the same models (``openapi_docs``), and one map from errors to statuses (``errors``).

``app`` (the Powertools resolver) serves the routes; the submit function's handler hands it the
use cases of ``midiscribe.service``, wired to AWS, for each request.
"""
