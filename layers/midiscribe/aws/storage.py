"""The data bucket: uploads, inbox files and results, and presigned links to them.

:class:`midiscribe.domain.ports.ObjectStore` on S3. boto3 is created lazily and honours
``AWS_ENDPOINT_URL``, which is how the local stack and tests point this at moto.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError

from midiscribe.domain.errors import ObjectNotFoundError, ObjectTooLargeError
from midiscribe.domain.ports import ObjectInfo
from midiscribe.domain.tasks import shown_name

from . import AwsAdapter, error_code

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# Objects up to this size download with one streamed GET (``Storage.download_file``), in chunks of DOWNLOAD_CHUNK;
# a body cut off mid-stream is read again from the start, DOWNLOAD_ATTEMPTS times in all.
SINGLE_GET_BYTES = 64 * 1024 * 1024
DOWNLOAD_CHUNK = 1024 * 1024
DOWNLOAD_ATTEMPTS = 3
STREAM_ERRORS = (IncompleteReadError, ReadTimeoutError, ResponseStreamingError)
# An upload form records the file's own name (練習.wav; the key holds an ASCII one) as this user metadata,
# percent-encoded: S3 sends metadata in HTTP headers, which carry ASCII only. At most this many bytes of it
# (S3 allows 2 KB of user metadata per object).
NAME_METADATA = "name"
MAX_NAME_METADATA_BYTES = 1024


def encoded_name(name: str) -> str:
    """``name`` as the ASCII value of the ``name`` metadata, shortened to fit MAX_NAME_METADATA_BYTES."""
    encoded = quote(name, safe="")
    while len(encoded) > MAX_NAME_METADATA_BYTES:
        name = name[:-1]
        encoded = quote(name, safe="")
    return encoded


def decoded_name(value: str) -> str:
    """The file name an object's ``name`` metadata holds ('' for none). Whoever uploaded the object wrote it, so
    it is read as any client-given name is: its last path part, without control characters."""
    return shown_name(unquote(value, errors="replace")) if value else ""


def _is_missing(error: ClientError) -> bool:
    return error_code(error) in _MISSING_CODES


class Storage(AwsAdapter):
    """One S3 bucket."""

    service = "s3"
    # SigV4 everywhere: presigned POSTs and GETs must work in every region.
    signature_version = "s3v4"

    def __init__(self, bucket: str, client: Any = None):
        if not bucket:
            raise ValueError("no bucket name: set MIDISCRIBE_BUCKET")
        self.bucket = bucket
        super().__init__(client)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def upload_file(self, path: str | Path, key: str, content_type: str = "application/octet-stream") -> None:
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def head(self, key: str) -> ObjectInfo | None:
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(answer.get("ContentLength", 0)),
            content_type=str(answer.get("ContentType", "")),
            name=decoded_name(str((answer.get("Metadata") or {}).get(NAME_METADATA, ""))),
        )

    def download_file(self, key: str, path: str | Path, *, max_bytes: int | None = None) -> int:
        """Copy an object to a local file; returns its size.

        One streamed GET for objects up to ``SINGLE_GET_BYTES``: boto3's managed transfer asks for the size
        first (a HEAD) and runs even a small object through a pool of threads (on the local stack, four 60-s
        stems took 0.15-0.26 s that way against 0.07-0.11 s as GETs). A larger object (an hour of WAV) goes
        through the managed transfer, which reads its parts with ranged GETs side by side.
        """
        for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
            answer = self._get(key)
            body, size = answer["Body"], int(answer.get("ContentLength", 0))
            try:
                if max_bytes is not None and size > max_bytes:
                    raise ObjectTooLargeError(key, size, max_bytes)
                if size > SINGLE_GET_BYTES:
                    break
                return _stream_to(body, path, key, max_bytes)
            except STREAM_ERRORS:  # the connection broke mid-body: start the file again
                if attempt == DOWNLOAD_ATTEMPTS:
                    raise
            finally:
                body.close()
        try:
            self.client.download_file(self.bucket, key, str(path))
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFoundError(self.bucket, key) from None
            raise
        return size

    def _get(self, key: str) -> dict[str, Any]:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFoundError(self.bucket, key) from None
            raise

    def get_bytes(self, key: str) -> bytes:
        return self._get(key)["Body"].read()

    def read_start(self, key: str, size: int) -> bytes:
        """The object's first ``size`` bytes (all of it when smaller): a header, without the rest."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max(size, 1) - 1}")
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFoundError(self.bucket, key) from None
            if error_code(error) == "InvalidRange":  # an empty object
                return b""
            raise
        return answer["Body"].read(size)

    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_s))

    def presign_post(self, key: str, *, max_bytes: int, expires_s: int, content_type: str,
                     name: str = "") -> dict[str, Any]:
        """A browser/curl-friendly upload form for one key, size-limited by S3 itself. ``name``, the file's own
        name, is stored with the object (``head`` gives it back); the policy holds it, so a client cannot change it."""
        fields = {"Content-Type": content_type}
        conditions: list[Any] = [["content-length-range", 1, int(max_bytes)], {"Content-Type": content_type}]
        if name:
            field = f"x-amz-meta-{NAME_METADATA}"
            fields[field] = encoded_name(name)
            conditions.append({field: fields[field]})
        return self.client.generate_presigned_post(
            Bucket=self.bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=int(expires_s)
        )


def _stream_to(body: Any, path: str | Path, key: str, max_bytes: int | None) -> int:
    """Write a GET's body to ``path`` chunk by chunk; its size. Past ``max_bytes`` (a body longer than its
    announced length) it stops with :class:`ObjectTooLargeError`."""
    written = 0
    with open(path, "wb") as destination:
        while chunk := body.read(DOWNLOAD_CHUNK):
            written += len(chunk)
            if max_bytes is not None and written > max_bytes:
                raise ObjectTooLargeError(key, written, max_bytes)
            destination.write(chunk)
    return written
