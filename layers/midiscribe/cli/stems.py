"""``midiscribe transcribe --stem NAME=PATH[:INSTRUMENT] …``: stems in, one set of multi-track outputs.

Each ``--stem`` names one separated part of a recording; the instrument comes from the name (``drums``,
``bass``, ``vocals``, ``keys``…) unless given after a colon. All stems are checked before any is read,
transcribed together (``engine.transcribe_stems``) and written as ``NAME.mid/.wav/.csv/.json`` where NAME
is ``--name``, or the folder the stems share (Demucs writes ``separated/htdemucs/<song>/drums.wav``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..engine.errors import EngineError, InvalidOptionsError
from ..engine.instruments import Family
from ..engine.options import TranscriptionOptions

DEFAULT_OUTPUT_NAME = "stems"
INSTRUMENT_CHOICES = tuple(family.value for family in Family)


@dataclass(frozen=True)
class StemArgument:
    name: str
    path: Path
    instrument: str | None  # a family name, or None: the stem's name decides


def parse_stem(text: str) -> StemArgument:
    """argparse type for ``NAME=PATH`` or ``NAME=PATH:INSTRUMENT``.

    A suffix after the last colon counts as the instrument only when it is a family name, so paths
    with colons in them still work.
    """
    name, separator, rest = text.partition("=")
    name = name.strip()
    if not separator or not name or not rest:
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH or NAME=PATH:INSTRUMENT (e.g. drums=drums.wav, lead=solo.wav:winds), got {text!r}")
    path_text, colon, instrument = rest.rpartition(":")
    if colon and instrument.strip().lower() in INSTRUMENT_CHOICES and path_text:
        return StemArgument(name, Path(path_text), instrument.strip().lower())
    return StemArgument(name, Path(rest), None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "stems (one multi-track result from the separated parts of one recording)")
    group.add_argument("--stem", dest="stems", action="append", type=parse_stem, default=[],
                       metavar="NAME=PATH[:INSTRUMENT]",
                       help="a stem to transcribe as one track of the result; repeat for each stem. The instrument "
                            "comes from NAME (drums, bass, vocals, piano, keys, guitar, strings…) unless given: "
                            f"one of {', '.join(INSTRUMENT_CHOICES)}. Drums go to channel 10")
    group.add_argument("--name", dest="output_name", default=None, metavar="NAME",
                       help="the outputs' file name for --stem (default: the folder the stems share, else "
                            f"'{DEFAULT_OUTPUT_NAME}')")


def output_name(args: argparse.Namespace) -> str:
    # A blank --name is not given (it wrote " .mid", " .wav", …).
    if args.output_name and args.output_name.strip():
        return args.output_name.strip()
    folders = {stem.path.resolve().parent for stem in args.stems}
    if len(folders) == 1:
        folder = folders.pop().name
        if folder:
            return folder
    return DEFAULT_OUTPUT_NAME


def check_stems(args: argparse.Namespace, options: TranscriptionOptions) -> None:
    """Everything wrong with the stems, before any audio is read (raises InvalidOptionsError)."""
    if args.inputs:
        raise InvalidOptionsError("Give either INPUT files or --stem, not both: --stem makes one multi-track "
                                  "result from several stems; INPUT files are transcribed one by one.")
    if args.instrument != "auto":
        raise InvalidOptionsError("--instrument is for INPUT files; give each stem's instrument after a colon "
                                  "instead: --stem lead=solo.wav:winds.")
    from ..engine.stems import check_scoreable, resolve_stems, stem_options
    from .transcribe import in_flag_terms

    # Names and instruments; then whether the options can run each pitched stem's family.
    resolved = resolve_stems((stem.name, stem.path, stem.instrument) for stem in args.stems)
    try:
        check_scoreable([stem.family for stem in resolved], options)
    except InvalidOptionsError as refused:
        raise InvalidOptionsError(in_flag_terms(refused.message)) from None
    for stem in resolved:
        if stem.family is not Family.DRUMS:
            try:
                stem_options(options, stem.family)
            except InvalidOptionsError as refused:
                # The stem's family stands for instrument (it comes from the name or :INSTRUMENT, not --instrument).
                problem = refused.message.removeprefix("Invalid transcription options: ").removeprefix("options: ")
                raise InvalidOptionsError(
                    f"--stem {stem.name} ({stem.family.value}): {in_flag_terms(problem, keep=('instrument',))}"
                ) from None
    for stem in args.stems:
        if not stem.path.is_file():
            problem = "no such file" if not stem.path.exists() else "not a file"
            hint = ""
            head, colon, tail = str(stem.path).rpartition(":")
            if colon and head and tail and "/" not in tail:
                hint = f" (if {tail!r} is meant as the instrument, use one of: {', '.join(INSTRUMENT_CHOICES)})"
            raise InvalidOptionsError(f"--stem {stem.name}: {problem}: {stem.path}{hint}")
    name = output_name(args)
    if "/" in name or name in (".", ".."):
        raise InvalidOptionsError(f"--name {name!r} must be a plain file name, without folders.")


def run_stems(args: argparse.Namespace, options: TranscriptionOptions, plan: list[tuple[str, str]],
              progress, stream: TextIO) -> int:
    """Transcribe the stems into one result and write it; the exit status (0 or 1)."""
    from ..engine import transcribe_stems
    from .transcribe import (
        EXIT_OK,
        EXIT_SOME_FAILED,
        OutputError,
        counted,
        format_duration,
        write_outputs,
    )

    name = output_name(args)
    progress.start_file(1, 1, Path(f"{name} ({counted(len(args.stems), 'stem')})"))
    began = time.perf_counter()
    try:
        transcription = transcribe_stems([(stem.name, stem.path, stem.instrument) for stem in args.stems], options,
                                         max_duration_s=args.max_duration, progress=progress.update)
        for notice in transcription.notices:  # shown even with -q: it says why notes may be missing
            progress.error(f"note: {notice}")
        progress.set_phase("writing", transcription.duration_s, transcription.duration_s)
        write_outputs(transcription, args.output_dir, name, plan)
    except OutputError as exc:
        progress.error(f"error: the stems were transcribed, but {exc}")
        return EXIT_SOME_FAILED
    except EngineError as exc:
        progress.error(f"error: {exc.message}")
        return EXIT_SOME_FAILED
    except OSError as exc:
        progress.error(f"error: {exc.filename or name}: {exc.strerror or exc}")
        return EXIT_SOME_FAILED
    progress.clear()
    elapsed = time.perf_counter() - began
    if not args.quiet:
        tracks = ", ".join(f"{track.name} ({track.instrument_name}): {len(track.notes)}"
                           for track in transcription.instrument_tracks())
        names = ",".join(suffix.lstrip(".") for suffix, _ in plan)
        print(f"{counted(len(args.stems), 'stem')}, {format_duration(transcription.duration_s)} of audio, "
              f"in {elapsed:.1f} s; notes per track: {tracks} -> {args.output_dir / name}.{{{names}}}", file=stream)
    return EXIT_OK
