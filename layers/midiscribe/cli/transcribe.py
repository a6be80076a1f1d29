"""``midiscribe transcribe``: audio files in; MIDI, sonified WAV, note CSV and note JSON out.

Every engine option is a flag generated from :class:`TranscriptionOptions`, so the CLI cannot fall
behind the engine. Options are checked before any file is read. Each input is transcribed on its
own: one that fails is reported and the others are still done, and the exit status says whether
everything succeeded. ``--instrument`` says what the inputs are (``drums`` runs the drum transcriber);
``--stem`` instead makes one multi-track result from a recording's stems (``stems.py``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO, get_args, get_origin

from pydantic import ValidationError

from ..engine.errors import EngineError, InvalidOptionsError
from ..engine.options import GENERAL_MODEL_OPTIONS, TranscriptionOptions, not_used_note
from . import stems as stems_command

# What each output is called on the command line, its file suffix and the Transcription writer.
OUTPUTS = (
    ("midi", ".mid", "write_midi", "the MIDI file"),
    ("sonify", ".wav", "write_wav", "the sonified WAV (the MIDI played by a synthesizer)"),
    ("csv", ".csv", "write_csv", "the note events as CSV"),
    ("json", ".json", "write_json", "the note events as JSON"),
)
UNIT_METAVARS = {"_ms": "MS", "_frequency": "HZ", "_tempo": "BPM", "tempo_hint": "BPM", "_threshold": "P"}

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except where there is none to show (``None`` reads as noise)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        on_off_switch = action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction)
        if action.default is None or on_off_switch:
            return action.help or ""
        return super()._get_help_string(action)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "transcribe",
        help="transcribe audio files to MIDI, sonified WAV, CSV and JSON",
        description="Transcribe audio files to <stem>.mid, <stem>.wav (the MIDI sonified), <stem>.csv and "
        "<stem>.json with the general model (basic-pitch) or, with --model piano, the piano model (transkun 2.0); "
        "drums with midiscribe's drum transcriber. Any format soundfile or PyAV reads: WAV, FLAC, MP3, OGG/Opus, "
        "AIFF, M4A/AAC, WebM, MP4. With --stem, a recording's stems become one multi-track result: "
        "midiscribe transcribe --stem drums=drums.wav --stem bass=bass.flac --stem lead=solo.wav:winds",
        formatter_class=_HelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="audio files to transcribe")
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("."),
                        help="folder for the outputs, created if missing")
    written = parser.add_argument_group("outputs (all written unless skipped)")
    for name, suffix, _, description in OUTPUTS:
        written.add_argument(f"--no-{name}", dest=name, action="store_false", default=True,
                             help=f"do not write {description} ({suffix})")
    add_option_flags(parser.add_argument_group("transcription options (unset thresholds follow --instrument)"))
    parser.add_argument("--max-duration", type=bounded_float_checks(gt=0.0), default=None, metavar="SECONDS",
                        help="refuse inputs longer than this many seconds (default: no limit)")
    stems_command.add_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def add_option_flags(group, *, unset_defaults: bool = False) -> None:
    """One flag per TranscriptionOptions field (``--onset-threshold``, ``--model``…), checked as the
    options check them. ``unset_defaults``: every default is None, so only what the user gave is set
    (``midiscribe submit`` sends only those, and the API applies its defaults)."""
    for name, info in TranscriptionOptions.model_fields.items():
        flag = "--" + name.replace("_", "-")
        choices = literal_choices(info.annotation)
        default = None if unset_defaults else info.default
        if info.annotation in (bool, bool | None):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default,
                               help=info.description)
        elif choices:
            group.add_argument(flag, dest=name, choices=choices, default=default, metavar="NAME",
                               help=f"{info.description} One of: {', '.join(choices)}.")
        else:
            metavar = next((unit for ending, unit in UNIT_METAVARS.items() if name.endswith(ending)), "X")
            bounds = numeric_bounds(info.metadata)
            group.add_argument(flag, dest=name, type=bounded_float_checks(**bounds), default=default,
                               metavar=metavar, help=f"{info.description} Range: {describe_bounds(bounds)}.")


def literal_choices(annotation) -> tuple | None:
    """The values of a ``Literal[...]`` field, also when it may be None (unset)."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    literals = [arg for arg in get_args(annotation) if get_origin(arg) is Literal]
    return get_args(literals[0]) if literals else None


def numeric_bounds(constraints) -> dict[str, float]:
    """A field's pydantic ge/gt/le/lt bounds, by name."""
    bounds = {}
    for constraint in constraints:
        for key in ("ge", "gt", "le", "lt"):
            if getattr(constraint, key, None) is not None:
                bounds[key] = getattr(constraint, key)
    return bounds


def describe_bounds(bounds: dict[str, float]) -> str:
    """``at least 0 and at most 1``: the words the help and the refusal both use."""
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    return " and ".join(f"{words[key]} {value:g}" for key, value in bounds.items()) or "a finite number"


def bounded_float_checks(**bounds: float) -> callable:
    """An argparse type that parses a float and checks it against ``bounds`` (``ge=0.0, le=1.0``)."""
    tests = {"ge": float.__ge__, "gt": float.__gt__, "le": float.__le__, "lt": float.__lt__}
    allowed = describe_bounds(bounds)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not all(tests[key](value, float(limit)) for key, limit in bounds.items()):
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text})")
        return value

    parse.__name__ = "number"  # argparse names the type in its "invalid <type> value" messages
    return parse


# --------------------------------------------------------------------------------------------------
# Progress and logging


def counted(count: int, noun: str) -> str:
    """``1 note``, ``2 notes``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_duration(seconds: float) -> str:
    if 0 < seconds < 9.95:  # a short clip is not "0:00": tenths of a second
        return f"{seconds:.1f} s"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """A one-line progress bar on a terminal; one line per finished file elsewhere; nothing when quiet."""

    REDRAW_INTERVAL_S = 0.1

    def __init__(self, stream: TextIO, *, quiet: bool):
        self.stream = stream
        self.quiet = quiet
        self.bar = not quiet and _is_terminal(stream)
        self.file_label = ""
        self.phase = ""
        self.last_draw = 0.0
        self.line_shown = False

    def start_file(self, number: int, count: int, path: Path) -> None:
        self.file_label = f"[{number}/{count}] {path.name}"
        self.phase = "reading"
        self.update(0.0, None, force=True)

    def update(self, done_s: float, total_s: float | None, *, force: bool = False) -> None:
        if not self.bar:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < self.REDRAW_INTERVAL_S:
            return
        self.last_draw = now
        if self.phase == "reading" and done_s > 0:
            self.phase = "transcribing"
        width = shutil.get_terminal_size((80, 20)).columns
        if total_s:
            fraction = min(1.0, max(0.0, done_s / total_s))
            detail = f"{fraction:4.0%} {format_duration(done_s)}/{format_duration(total_s)} {self.phase}"
        else:
            fraction = None
            detail = f"{format_duration(done_s)} of audio {self.phase}"
        bar_width = max(10, min(40, width - len(self.file_label) - len(detail) - 6))
        if fraction is None:
            bar = "·" * bar_width
        else:
            filled = int(round(fraction * bar_width))
            bar = "█" * filled + "░" * (bar_width - filled)
        line = f"{self.file_label} {bar} {detail}"[: width - 1]
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.line_shown = True

    def set_phase(self, phase: str, done_s: float, total_s: float | None) -> None:
        self.phase = phase
        self.update(done_s, total_s, force=True)

    def clear(self) -> None:
        if self.line_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.line_shown = False

    def log(self, message: str) -> None:
        if not self.quiet:
            self.clear()
            print(message, file=self.stream, flush=True)

    def error(self, message: str) -> None:
        self.clear()
        print(message, file=self.stream, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# The command


@dataclass
class Summary:
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)
    notes: int = 0
    audio_s: float = 0.0

    def line(self, wall_s: float) -> str:
        total = self.succeeded + len(self.failed)
        speed = f" ({self.audio_s / wall_s:.1f}x real time)" if wall_s > 0 and self.audio_s > 0 else ""
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return (f"{self.succeeded} of {counted(total, 'file')} transcribed{failed}; "
                f"{counted(self.notes, 'note')} from {format_duration(self.audio_s)} of audio in {wall_s:.1f} s{speed}")


# Outputs that engine options ask for: --quantize (other than off) and --score.
OPTION_OUTPUTS = (
    ("quantize", ".quantized.mid", "write_quantized_midi"),
    ("score", ".musicxml", "write_musicxml"),
)


def output_plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(suffix, writer name) for each output asked for."""
    plan = [(suffix, writer) for name, suffix, writer, _ in OUTPUTS if getattr(args, name)]
    return plan + [(suffix, writer) for name, suffix, writer in OPTION_OUTPUTS if getattr(args, name) not in (False, "off")]


def flag_for(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def in_flag_terms(message: str, keep: tuple[str, ...] = ()) -> str:
    """Name options as the flags the user typed rather than as the engine's field names (but ``keep``)."""
    names = "|".join(re.escape(name) for name in TranscriptionOptions.model_fields if name not in keep)
    return re.sub(rf"\b({names})\b", lambda match: flag_for(match.group(1)), message)


def parse_options(values: dict) -> TranscriptionOptions:
    """Validate the combination (each flag's own range was checked by argparse already)."""
    try:
        return TranscriptionOptions.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error.get("msg", "").removeprefix("Value error, ")
            location = ".".join(str(part) for part in error.get("loc", ()))
            problems.append(in_flag_terms(f"{location}: {message}" if location else message))
        raise InvalidOptionsError("; ".join(problems)) from None


def rhythm_words(transcription) -> str:
    """", 96 BPM in 3/4, E-flat major" for a file's line: what the bars were found to be, so that a user who
    counts it otherwise sees it at once (and can say so with --tempo-hint or --time-signature)."""
    options, rhythm = transcription.options, transcription.rhythm
    key = f", {rhythm.key.name}" if rhythm is not None and rhythm.key is not None else ""
    if options.midi_tempo is not None:
        # A forced tempo counts quarter notes, MIDI's unit, whatever the metre: said so, since in 6/8 the
        # tracked tempo (below) counts dotted quarters.
        return f", quarter = {options.midi_tempo:g} (--midi-tempo) in {options.time_signature or '4/4'}{key}"
    if rhythm is None:
        return ""
    numerator, denominator = rhythm.time_signature
    return f", {rhythm.tempo_bpm:.0f} BPM in {numerator}/{denominator}{key}"


def check_arguments(args: argparse.Namespace) -> tuple[TranscriptionOptions, list[tuple[str, str]]]:
    """Everything that can be wrong with the command line itself, found before any audio is read."""
    options = parse_options({name: getattr(args, name) for name in TranscriptionOptions.model_fields})
    plan = output_plan(args)
    if not plan:
        raise InvalidOptionsError("Nothing to write: every output is switched off (--no-midi, --no-sonify, "
                                  "--no-csv, --no-json). Drop at least one of them.")
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise InvalidOptionsError(f"--output-dir {args.output_dir} exists and is not a folder.")
    if args.stems:
        stems_command.check_stems(args, options)
        name = stems_command.output_name(args)
        refuse_overwriting_inputs([stem.path for stem in args.stems], args.output_dir, [name], plan)
        return options, plan
    if not args.inputs:
        raise InvalidOptionsError("Nothing to transcribe: give audio files (INPUT …) or stems (--stem NAME=PATH …).")
    # A file given twice (song.wav twice in a shell list) is transcribed once, not twice into the same outputs.
    args.inputs = list(dict.fromkeys(args.inputs))
    stems: dict[str, Path] = {}
    for path in args.inputs:
        other = stems.setdefault(path.stem, path)
        if other != path:
            raise InvalidOptionsError(f"{other} and {path} would both be written as {path.stem}.*; "
                                      f"rename one or transcribe them into different --output-dir folders.")
    refuse_overwriting_inputs(args.inputs, args.output_dir, list(stems), plan)
    return options, plan


def refuse_overwriting_inputs(inputs: list[Path], output_dir: Path, names: list[str],
                              plan: list[tuple[str, str]]) -> None:
    """An output named after its input can be that input (song.wav's sonified WAV is song.wav when the
    outputs go next to it): refuse rather than replace the recording."""
    sources = {path.resolve(): path for path in inputs if path.is_file()}
    skip_flags = {suffix: f"--no-{name}" for name, suffix, _, _ in OUTPUTS}
    for name in names:
        for suffix, _ in plan:
            output = output_dir / f"{name}{suffix}"
            source = sources.get(output.resolve())
            if source is not None:
                skip = f" (or {skip_flags[suffix]} to skip it)" if suffix in skip_flags else ""
                raise InvalidOptionsError(f"{output} would overwrite the input {source}: write the outputs "
                                          f"elsewhere with --output-dir{skip}.")


class OutputError(Exception):
    """An output file that could not be written (a full disk, a folder made read-only meanwhile): said as such,
    naming the file, rather than as a problem with the input."""

    def __init__(self, destination: Path, error: OSError):
        self.destination, self.error = destination, error
        super().__init__(f"{destination} could not be written: {error.strerror or error}")


def output_dir_problem(folder: Path) -> str | None:
    """Why no file can be written in ``folder`` (None when one can), found by writing one: permissions,
    a read-only or immutable folder alike, before minutes of transcription rather than after."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".midiscribe-write-check-"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def write_outputs(transcription, folder: Path, name: str, plan: list[tuple[str, str]]) -> None:
    """Write ``name``'s outputs in ``folder``, as ``plan`` (suffix, writer) says. An output that cannot be
    written raises :class:`OutputError`, after the ones written before it are removed: none is left for an
    input reported failed."""
    written = [folder / f"{name}{suffix}" for suffix, _ in plan]
    for index, ((_, writer), destination) in enumerate(zip(plan, written, strict=True)):
        try:
            getattr(transcription, writer)(destination)
        except OSError as exc:
            for path in written[: index + 1]:
                path.unlink(missing_ok=True)
            raise OutputError(destination, exc) from exc


def run(args: argparse.Namespace, stream: TextIO | None = None) -> int:
    stream = stream or sys.stderr
    try:
        options, plan = check_arguments(args)
    except InvalidOptionsError as exc:
        print(f"midiscribe transcribe: error: {exc.message}", file=stream)
        return EXIT_USAGE
    try:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"midiscribe transcribe: error: cannot create --output-dir {args.output_dir}: {exc.strerror}",
              file=stream)
        return EXIT_USAGE
    unwritable = output_dir_problem(args.output_dir)
    if unwritable:
        print(f"midiscribe transcribe: error: cannot write in --output-dir {args.output_dir}: {unwritable}. "
              f"Give a folder you can write to with --output-dir.", file=stream)
        return EXIT_USAGE

    fields = TranscriptionOptions.model_fields
    unused = [name for name in GENERAL_MODEL_OPTIONS if getattr(args, name, None) != fields[name].default]
    if unused and not args.stems and options.transcriber != "general":
        # Accepted (a script may pass the same flags to both models), but not silently.
        flags = [f"--{name.replace('_', '-')}" for name in unused]
        print(f"midiscribe transcribe: note: {not_used_note(flags, options.transcriber)}", file=stream)
    progress = Progress(stream, quiet=args.quiet)
    if args.stems:
        return stems_command.run_stems(args, options, plan, progress, stream)
    # Looked up when the command runs rather than at import, so a substituted engine entry point is used.
    from ..engine import transcribe

    def transcribe_input(path: Path):
        return transcribe(path, options, max_duration_s=args.max_duration, progress=progress.update)

    summary = Summary()
    began = time.perf_counter()
    for number, path in enumerate(args.inputs, start=1):
        progress.start_file(number, len(args.inputs), path)
        file_began = time.perf_counter()
        try:
            if not path.is_file():
                # The message is prefixed with the path below: say only what is wrong with it.
                raise FileNotFoundError("no such file" if not path.exists() else "not a file (a folder?)")
            transcription = transcribe_input(path)
            for notice in transcription.notices:  # shown even with -q: it says why notes may be missing
                progress.error(f"{path}: note: {notice}")
            progress.set_phase("writing", transcription.duration_s, transcription.duration_s)
            write_outputs(transcription, args.output_dir, path.stem, plan)
        except OutputError as exc:
            summary.failed.append(str(path))
            progress.error(f"error: {path}: transcribed, but {exc}")
            continue
        except EngineError as exc:
            summary.failed.append(str(path))
            # The engine's messages usually name the file already.
            progress.error(f"error: {exc.message}" if str(path) in exc.message else f"error: {path}: {exc.message}")
            continue
        except OSError as exc:
            summary.failed.append(str(path))
            reason = exc.strerror if exc.strerror and exc.filename else str(exc)
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            progress.error(f"error: {path}: {reason}{where}")
            continue
        except Exception as exc:  # a bug on one input must not cost the user the rest of the batch
            summary.failed.append(str(path))
            progress.error(f"error: {path}: unexpected {type(exc).__name__}: {exc} (this is a bug in midiscribe; "
                           f"please report it with the input if you can)")
            continue
        elapsed = time.perf_counter() - file_began
        summary.succeeded += 1
        summary.notes += len(transcription.notes)
        summary.audio_s += transcription.duration_s
        speed = transcription.duration_s / elapsed if elapsed > 0 else float("inf")
        names = ",".join(suffix.lstrip(".") for suffix, _ in plan)
        progress.log(f"{path}: {counted(len(transcription.notes), 'note')}{rhythm_words(transcription)}, "
                     f"{format_duration(transcription.duration_s)} of audio in {elapsed:.1f} s ({speed:.1f}x real time) -> "
                     f"{args.output_dir / path.stem}.{{{names}}}")
    progress.clear()
    wall_s = time.perf_counter() - began
    if not args.quiet or summary.failed:
        print(summary.line(wall_s), file=stream)
    if summary.failed:
        print("failed: " + ", ".join(summary.failed), file=stream)
        return EXIT_SOME_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run ``transcribe`` on its own, without the other sub-commands' imports."""
    parser = argparse.ArgumentParser(prog="midiscribe transcribe", formatter_class=_HelpFormatter,
                                     description="Transcribe audio files to MIDI, sonified WAV, CSV and JSON.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
