"""``midiscribe submit FILE``: queue a transcription on any deployment, optionally wait and download."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..client import (
    API_KEY_ENV,
    API_URL_ENV,
    DEFAULT_API_URL,
    OUTPUT_FIELDS,
    MidiscribeClient,
    MidiscribeError,
)
from ..engine.options import TranscriptionOptions
from .transcribe import add_option_flags, bounded_float_checks, counted, format_duration


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "submit",
        help="send an audio file to a midiscribe API (local or AWS), optionally wait and download the results",
        description="Queue FILE for transcription. Files too large for one request go to the bucket with a "
        "presigned upload first. With --wait, poll until the task ends and download the outputs.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="audio file (wav, flac, mp3, ogg, m4a, …)")
    parser.add_argument("--api-url", default=None,
                        help=f"API base URL (default: ${API_URL_ENV} or {DEFAULT_API_URL}; for AWS the stack's ApiUrl output)")
    parser.add_argument("--api-key", default=None, help=f"API key (default: ${API_KEY_ENV})")
    parser.add_argument("--webhook-url", default=None, help="URL that receives the signed result webhook")
    parser.add_argument("--wait", action="store_true", help="poll until the task ends, then download the outputs")
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("out"),
                        help="where --wait puts the outputs, named after FILE (default: ./out)")
    parser.add_argument("--no-sonify", action="store_true", help="skip the sonified .wav")
    parser.add_argument("--no-note-events", action="store_true", help="skip the note events (.csv and .json)")
    # Checked before anything is sent: a zero or negative wait queued a task and gave up on it at once.
    parser.add_argument("--timeout", type=bounded_float_checks(gt=0.0), default=1800.0, metavar="SECONDS",
                        help="give up waiting after this many seconds (default: 1800)")
    add_option_flags(parser.add_argument_group("transcription options (unset: the API's defaults)"), unset_defaults=True)
    parser.set_defaults(run=run)


def _progress_printer(stream: Any) -> Any:
    interactive = stream.isatty()
    last = {"status": None}

    def show(conversion: dict, elapsed: float) -> None:
        status = conversion.get("status", "?")
        line = f"{conversion.get('task_id', '')}  {status:<10}  {elapsed:6.1f} s"
        if conversion.get("status_msg"):
            line += f"  {conversion['status_msg']}"
        if interactive:
            stream.write("\r" + line[:120].ljust(120))
            if status in ("COMPLETED", "FAILED"):
                stream.write("\n")
        elif status != last["status"]:
            stream.write(line + "\n")
        last["status"] = status
        stream.flush()

    return show


def overwritten_by_results(args: argparse.Namespace) -> str | None:
    """With --wait into the input's own folder, which output would land on the input (song.wav's sonified WAV
    is song.wav): known before anything is sent, rather than refused after the whole task (``download``).
    The results are saved under the input's own name (``download``'s ``name``), whatever the service calls
    them, so a name it writes in ASCII (練習.wav's audio.mid) cannot land on another file of the folder."""
    if not args.wait or args.output_dir.resolve() != args.file.resolve().parent:
        return None
    extensions = {".mid": "midi_file_path"}
    if not args.no_sonify:
        extensions[".wav"] = "sonify_file_path"
    if not args.no_note_events:
        extensions |= {".csv": "notes_file_path", ".json": "notes_json_path"}
    field = extensions.get(args.file.suffix)
    return OUTPUT_FIELDS[field] if field else None


def run(args: argparse.Namespace) -> int:
    overwritten = overwritten_by_results(args)
    if overwritten:
        print(f"error: the {overwritten} would overwrite {args.file}: give --output-dir another folder "
              "(nothing was sent)", file=sys.stderr)
        return 2
    try:
        client = MidiscribeClient(args.api_url, args.api_key)
        options = {name: getattr(args, name) for name in TranscriptionOptions.model_fields
                   if getattr(args, name) is not None}
        queued = client.submit_file(
            args.file, webhook_url=args.webhook_url,
            sonify_midi=not args.no_sonify, save_note_events=not args.no_note_events, options=options,
        )
        task_id = queued.get("task_id")
        print(f"queued {args.file.name}: task_id {task_id}", file=sys.stderr)
        for warning in queued.get("warnings") or ():
            print(f"midiscribe submit: note: {warning}", file=sys.stderr)
        if not args.wait:
            print(task_id)
            return 0
        conversion = client.wait(task_id, timeout=args.timeout, progress=_progress_printer(sys.stderr))
        if conversion.get("status") != "COMPLETED":
            print(f"error: task {task_id} failed: {conversion.get('error') or conversion.get('status_msg')}",
                  file=sys.stderr)
            return 1
        saved = client.download(conversion, args.output_dir, keep=[args.file], name=args.file.stem)
    except MidiscribeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for field_name, path in saved.items():
        print(f"{OUTPUT_FIELDS[field_name]:<18} {path}")
    if conversion.get("note_count") is not None:
        duration_s = conversion.get("audio_duration_s")
        length = format_duration(duration_s) if duration_s is not None else "?"
        print(f"{counted(int(conversion['note_count']), 'note')} in {length} of audio", file=sys.stderr)
    return 0
