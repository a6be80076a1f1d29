"""Step 2, fetch input: a task's audio copied to the worker's scratch folder, from the bucket or a URL.

The stems of a multi-stem task download side by side (:class:`ArrivingStems`), and the transcription
job hands each to the engine as soon as it has arrived rather than after the last one.

What can never work (an object that is gone or too large, a refused or failing URL) becomes a
:class:`TaskInputError`. A URL's download that failed in a way another try may fix (a stall, a dropped
connection, a 5xx) is tried again at once, after each of ``URL_RETRY_PAUSES_S``, within the download's
time limit; if it still timed out, the task is handed back to the queue for a later try
(:class:`TransientError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import KW_ONLY, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from midiscribe import net
from midiscribe.domain.errors import ObjectNotFoundError, ObjectTooLargeError
from midiscribe.domain.ports import ObjectStore
from midiscribe.domain.tasks import TaskSource, TaskStem

from ..config import Settings
from .errors import OutOfScratchSpace, TaskInputError, TransientError, out_of_space

URL_DOWNLOAD_TIMEOUT_S = 30.0  # to connect, and for each read
# For the whole download: a server that trickles bytes would otherwise hold the worker until the Lambda
# times out (15 minutes), and the task would be retried. 300 s is 0.7 MB/s for the default 200 MB limit.
URL_DOWNLOAD_TOTAL_S = 300.0
# Pauses before each new try of a URL's download that failed in passing (a CDN's blip, a server restarting):
# three tries in all. The queue's own retry comes 90 minutes later (the visibility timeout).
URL_RETRY_PAUSES_S = (1.0, 4.0)
# Stems of one task fetched at once, at most.
PARALLEL_FETCHES = 8
# Extensions are kept (decoders may look at them) but never trusted to be short.
_MAX_EXTENSION = 10

Download = Callable[..., int]  # net.download's signature


@dataclass(frozen=True)
class FetchedInput:
    path: Path
    source: TaskSource
    seconds: float  # how long fetching took
    stem: TaskStem | None = None  # the stem of a multi-stem task this is
    arrived: bool = True  # False: only where the stem will be (InputFetcher.planned_stems), not fetched yet

    @property
    def shown_name(self) -> str:
        """The name users know the input by (never our scratch path)."""
        source = self.source
        name = source.filename or source.key.rsplit("/", 1)[-1] or urlsplit(source.url).path.rsplit("/", 1)[-1]
        return name or "the input"


@dataclass
class InputFetcher:
    settings: Settings
    _: KW_ONLY
    storage: ObjectStore
    download: Download = net.download

    def fetch(self, source: TaskSource, workdir: Path, cancellation: net.Cancellation | None = None) -> FetchedInput:
        """One input to ``workdir``. ``cancellation`` stops a URL's download, its tries and pauses included
        (``net.DownloadCancelled``); a copy from the bucket, fast and local, is not stopped."""
        started = time.perf_counter()
        path = self._destination(source, workdir)
        if source.kind == "s3":
            self._from_bucket(source.key, path)
        else:
            self._from_url(source.url, path, cancellation)
        return FetchedInput(path=path, source=source, seconds=time.perf_counter() - started)

    @staticmethod
    def _destination(source: TaskSource, workdir: Path) -> Path:
        if source.kind == "s3":
            return workdir / ("input" + Path(source.key).suffix[:_MAX_EXTENSION])
        if source.kind == "url":
            return workdir / ("input" + Path(urlsplit(source.url).path).suffix[:_MAX_EXTENSION])
        raise TaskInputError(f"The task's input ({source.kind!r}) cannot be read.", "INVALID_INPUT")

    def fetch_all(self, source: TaskSource, workdir: Path) -> list[FetchedInput]:
        """The task's input: its one file, or every stem of a multi-stem task (each in a folder of its own).

        A stem that cannot be read fails the task with a message that names the stem.
        """
        if source.kind != "stems":
            return [self.fetch(source, workdir)]
        with self.arriving(self.planned_stems(source, workdir)) as stems:
            return stems.fetched()

    def planned_stems(self, source: TaskSource, workdir: Path) -> list[FetchedInput]:
        """Where each stem of a multi-stem task goes (a folder of its own); nothing is fetched yet."""
        planned = []
        for index, stem in enumerate(source.stems):
            folder = workdir / f"stem-{index}"
            folder.mkdir()
            try:
                path = self._destination(stem.source, folder)
            except TaskInputError as error:
                raise TaskInputError(f"Stem {stem.name!r}: {error.message}", error.code) from None
            planned.append(FetchedInput(path=path, source=stem.source, seconds=0.0, stem=stem, arrived=False))
        return planned

    def arriving(self, stems: list[FetchedInput]) -> ArrivingStems:
        """The stems not fetched yet, downloading side by side from now on (see :class:`ArrivingStems`)."""
        return ArrivingStems(self, stems)

    def fetch_stem(self, planned: FetchedInput, cancellation: net.Cancellation | None = None) -> FetchedInput:
        """One stem, to where :meth:`planned_stems` put it; its errors name it."""
        name = planned.stem.name
        try:
            one = self.fetch(planned.source, planned.path.parent, cancellation)
        except TaskInputError as error:
            raise TaskInputError(f"Stem {name!r}: {error.message}", error.code) from None
        except TransientError as error:
            raise TransientError(f"stem {name!r}: {error}") from None
        except OSError as error:
            # Named here: the download may run beside the engine, after the pipeline's fetching step.
            if out_of_space(error):
                raise OutOfScratchSpace("fetching the input") from error
            raise
        return replace(planned, path=one.path, seconds=one.seconds, arrived=True)

    def _from_bucket(self, key: str, path: Path) -> Path:
        try:
            self.storage.download_file(key, path, max_bytes=self.settings.max_upload_bytes)
        except ObjectNotFoundError:
            raise TaskInputError(
                f"The input s3://{self.storage.bucket}/{key} does not exist (any more): upload it again.",
                "AUDIO_NOT_FOUND",
            ) from None
        except ObjectTooLargeError as error:
            raise TaskInputError(
                f"The input is {error.size} bytes, more than this deployment's limit of {error.limit} bytes.",
                "FILE_TOO_LARGE",
            ) from None
        return path

    def _from_url(self, url: str, path: Path, cancellation: net.Cancellation | None = None) -> Path:
        deadline = time.monotonic() + URL_DOWNLOAD_TOTAL_S
        for attempt, pause in enumerate((*URL_RETRY_PAUSES_S, None), start=1):
            try:
                with open(path, "wb") as destination:  # a new try starts the file again
                    self.download(
                        url,
                        destination,
                        max_bytes=self.settings.max_url_download_bytes,
                        timeout=URL_DOWNLOAD_TIMEOUT_S,
                        total_timeout=URL_DOWNLOAD_TOTAL_S,
                        deadline=deadline,  # shared by the tries
                        allow_private=self.settings.allow_private_urls,
                        allow_http=self.settings.allow_http_urls,
                        cancellation=cancellation,
                    )
                return path
            except net.UnsafeUrlError as error:
                raise TaskInputError(f"audio_url is refused: {error}.", "INVALID_AUDIO_URL") from None
            except net.DownloadCancelled:
                raise
            except net.DownloadError as error:
                if error.retryable and pause is not None and time.monotonic() + pause < deadline:
                    if cancellation is None:
                        time.sleep(pause)
                    elif cancellation.wait(pause):
                        raise net.DownloadCancelled("the download was cancelled between two tries") from None
                    continue
                tries = f" ({attempt} tries)" if attempt > 1 else ""
                if error.timed_out:
                    raise TransientError(f"downloading the audio timed out{tries}: {error.message}") from None
                raise TaskInputError(f"{error.message}{tries}", "DOWNLOAD_FAILED") from None


class ArrivingStems:
    """A multi-stem task's stems downloading side by side (at most PARALLEL_FETCHES at once), so that each can
    be transcribed as soon as it is here: :meth:`sources` gives the engine a future of each path still to come
    (``engine.transcribe_stems`` waits on a stem's own future only). Leaving the ``with`` block cancels the
    downloads not started, stops the URL downloads still running (a task that failed does not wait for a slow
    host's last byte) and waits for them to end, so none writes into a scratch folder being removed.
    """

    def __init__(self, fetcher: InputFetcher, stems: list[FetchedInput]):
        self._stems = list(stems)
        waiting = [index for index, stem in enumerate(self._stems) if not stem.arrived]
        self._cancellations = {index: net.Cancellation() for index in waiting}
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(len(waiting), PARALLEL_FETCHES)),
                                        thread_name_prefix="midiscribe-fetch")
        self._futures: dict[int, Future] = {index: self._pool.submit(self._fetch, fetcher, index) for index in waiting}

    def _fetch(self, fetcher: InputFetcher, index: int) -> Path:
        self._stems[index] = fetcher.fetch_stem(self._stems[index], self._cancellations[index])
        return self._stems[index].path

    def sources(self) -> list[Path | Future]:
        """Each stem's audio for the engine, in order: its path when it has arrived, else a future of it."""
        return [self._futures.get(index) or stem.path for index, stem in enumerate(self._stems)]

    def fetched(self) -> list[FetchedInput]:
        """Every stem, once all have arrived. When one fails, the URL downloads still running are cancelled
        rather than waited for, and the first stem in order whose fetch failed (not by that cancellation)
        raises its error."""
        if wait(self._futures.values(), return_when=FIRST_EXCEPTION).not_done:
            self.cancel()
            wait(self._futures.values())
        for index in sorted(self._futures):
            error = self._futures[index].exception()
            if error is not None and not isinstance(error, net.DownloadCancelled):
                raise error
        return list(self._stems)

    def cancel(self) -> None:
        """Stop the URL downloads still running (each ends with ``net.DownloadCancelled``)."""
        for cancellation in self._cancellations.values():
            cancellation.cancel()

    def __enter__(self) -> ArrivingStems:
        return self

    def __exit__(self, *exc_info) -> None:
        self.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
