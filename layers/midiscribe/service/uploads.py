"""POST /v1/uploads: a presigned S3 form for files larger than an API request can carry."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from midiscribe.domain.ports import ObjectStore
from midiscribe.domain.requests import UploadRequest
from midiscribe.domain.tasks import new_id, stored_media_type

from .config import Settings
from .object_keys import upload_key

# Time to start the upload; S3 checks it when the form is posted.
UPLOAD_FORM_EXPIRY_S = 3600


@dataclass(frozen=True)
class UploadForm:
    upload_id: str
    key: str
    audio_path: str  # what to submit to /v1/audio_to_midi once the file is in the bucket
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in: int


@dataclass
class Uploads:
    settings: Settings
    _: KW_ONLY
    storage: ObjectStore

    def create(self, owner_id: str, request: UploadRequest) -> UploadForm:
        """A form that uploads into ``owner_id``'s own prefix: only that key may submit the file."""
        upload_id = new_id()
        key = upload_key(owner_id, upload_id, request.filename)
        max_bytes = self.settings.max_upload_bytes
        # The form fixes the type the object is stored (and later served) under: never a page's.
        form = self.storage.presign_post(
            key, max_bytes=max_bytes, expires_s=UPLOAD_FORM_EXPIRY_S, content_type=stored_media_type(request.content_type),
            name=request.shown_name,
        )
        return UploadForm(
            upload_id=upload_id,
            key=key,
            audio_path=self.storage.uri(key),
            url=form["url"],
            fields={str(k): str(v) for k, v in form["fields"].items()},
            max_bytes=max_bytes,
            expires_in=UPLOAD_FORM_EXPIRY_S,
        )
