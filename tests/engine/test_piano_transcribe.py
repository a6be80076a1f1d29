"""The piano model end to end: a clip rendered here by FluidSynth, its notes, velocities and pedal recovered,
and the files written from them.

The tests that run the model need its weights (``midiscribe fetch-model``, which ``make install``
runs) and FluidSynth with the TimGM6mb sound font (``make test`` installs them where it may); without them they
skip and say why. The rest need neither.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from midiscribe.cli.transcribe import main as transcribe_main
from midiscribe.engine import (
    InvalidOptionsError,
    ModelNotFoundError,
    NotAudioError,
    TranscriptionOptions,
    transcribe,
)
from midiscribe.engine.instruments import Family
from midiscribe.engine.piano.model import MODEL_NAME, load_piano_model, model_dir, verify_piano_model
from midiscribe.engine.sonify import render, sounding_ends
from midiscribe.engine.transcription import NoteEvent, PedalEvent, Transcription

SOUND_FONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
# (start, length, pitch, velocity): soft and loud notes in turn, a chord under the sustain pedal, a last note.
CLIP_NOTES = [(0.5, 0.4, 60, 30), (1.2, 0.4, 64, 110), (1.9, 0.4, 67, 30), (2.6, 0.4, 72, 110),
              (3.4, 0.3, 48, 80), (3.4, 0.3, 55, 80), (3.4, 0.3, 64, 80), (5.6, 0.4, 60, 70)]
CLIP_PEDAL = (3.3, 5.2)  # sustain pedal down, up
ONSET_TOLERANCE_S = 0.05


def _clip_midi() -> mido.MidiFile:
    ticks_per_second = 960  # 480 ticks per beat at 120 BPM
    events = []
    for start, length, pitch, velocity in CLIP_NOTES:
        events.append((round(start * ticks_per_second), 2, mido.Message("note_on", note=pitch, velocity=velocity)))
        events.append((round((start + length) * ticks_per_second), 0, mido.Message("note_off", note=pitch)))
    for time, value in zip(CLIP_PEDAL, (127, 0), strict=True):
        events.append((round(time * ticks_per_second), 1, mido.Message("control_change", control=64, value=value)))
    track = mido.MidiTrack([mido.Message("program_change", program=0)])
    last = 0
    for tick, _, message in sorted(events, key=lambda event: event[:2]):
        track.append(message.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=ticks_per_second))
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    return midi


@pytest.fixture(scope="module")
def piano_clip(tmp_path_factory) -> Path:
    if shutil.which("fluidsynth") is None or not SOUND_FONT.exists():
        pytest.skip("needs FluidSynth and the TimGM6mb sound font: apt-get install fluidsynth timgm6mb-soundfont")
    try:
        verify_piano_model()
    except ModelNotFoundError as exc:
        pytest.skip(f"the piano model is not set up: {exc.message}")
    folder = tmp_path_factory.mktemp("piano")
    _clip_midi().save(folder / "clip.mid")
    audio = folder / "clip.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", "44100", "-T", "wav", "-F", str(audio),
                    str(SOUND_FONT), str(folder / "clip.mid")], check=True, stdout=subprocess.DEVNULL)
    return audio


@pytest.fixture(scope="module")
def piano_result(piano_clip):
    seen = []
    result = transcribe(piano_clip, {"model": "piano"}, progress=lambda done, total: seen.append((done, total)))
    return result, seen


def _found(result, start: float, pitch: int) -> list[NoteEvent]:
    return [note for note in result.notes if note.pitch == pitch and abs(note.start_s - start) <= ONSET_TOLERANCE_S]


def test_every_key_played_is_found_and_little_else(piano_result):
    result, _ = piano_result
    assert result.model_name == MODEL_NAME
    for start, _, pitch, _ in CLIP_NOTES:
        assert len(_found(result, start, pitch)) == 1, f"pitch {pitch} at {start} s: {result.notes}"
    assert len(result.notes) <= len(CLIP_NOTES) + 1


def test_loud_notes_come_out_louder_than_soft_ones(piano_result):
    result, _ = piano_result
    velocity = {(start, pitch): _found(result, start, pitch)[0].velocity for start, _, pitch, _ in CLIP_NOTES}
    assert velocity[(1.2, 64)] > velocity[(0.5, 60)] + 10
    assert velocity[(2.6, 72)] > velocity[(1.9, 67)] + 10


def test_the_sustain_pedal_press_is_found(piano_result):
    result, _ = piano_result
    sustain = [pedal for pedal in result.pedals if pedal.controller == 64]
    down, up = CLIP_PEDAL
    # Nothing sounds before the chord, so the press can only be heard from the chord on (3.4 s).
    held = [pedal for pedal in sustain if pedal.start_s < 3.8 and abs(pedal.end_s - up) < 0.15]
    assert held, f"no sustain pedal over {down}-{up} s in {result.pedals}"


def test_progress_is_reported_within_the_file(piano_result):
    result, seen = piano_result
    assert seen and seen[-1][0] == pytest.approx(result.duration_s) and seen[-1][1] == pytest.approx(result.duration_s)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_the_files_carry_the_piano_track_pedals_and_velocities(piano_result, tmp_path):
    result, _ = piano_result
    result.write_midi(tmp_path / "clip.mid")
    messages = [message for track in mido.MidiFile(tmp_path / "clip.mid").tracks for message in track]
    assert any(m.type == "program_change" and m.program == 0 for m in messages)
    assert any(m.type == "track_name" and m.name == "Acoustic Grand Piano" for m in messages)
    sustain = [m.value for m in messages if m.type == "control_change" and m.control == 64]
    assert 127 in sustain and 0 in sustain
    assert sorted(m.velocity for m in messages if m.type == "note_on") == sorted(n.velocity for n in result.notes)

    result.write_json(tmp_path / "clip.json")
    document = json.loads((tmp_path / "clip.json").read_text())
    assert document["model"] == MODEL_NAME
    assert {pedal["controller"] for pedal in document["pedals"]} >= {64}
    result.write_csv(tmp_path / "clip.csv")
    assert (tmp_path / "clip.csv").read_text().splitlines()[0] == "start_time_s,end_time_s,pitch_midi,velocity,pitch_bend"


def test_the_command_line_transcribes_with_the_piano_model(piano_clip, tmp_path):
    code = transcribe_main(["--model", "piano", str(piano_clip), "-o", str(tmp_path), "-q", "--no-sonify"])

    assert code == 0
    document = json.loads((tmp_path / "clip.json").read_text())
    assert document["model"] == MODEL_NAME and document["instruments"][0]["program"] == 0
    assert (tmp_path / "clip.mid").stat().st_size > 0 and (tmp_path / "clip.csv").exists()


class StandInNetwork:
    """The network's session replaced by a fixed function of the features (fast), counting its calls."""

    def __init__(self):
        self.calls = 0
        self.weight = np.random.default_rng(7).standard_normal((229, 90 * 256)).astype(np.float32) / 40

    def run(self, names, feeds):
        self.calls += 1
        steps = feeds["features"][0, : 88 * 7].mean(axis=2).reshape(88, 7, 229).mean(axis=1)
        return [np.tanh(steps @ self.weight).reshape(88, 90, 256).transpose(1, 0, 2).copy()]


def test_segments_of_digital_silence_run_the_network_once_with_the_same_result(piano_clip, tmp_path):
    """A piano stem resting for 31 s (exact zeros, as a DAW exports it): the all-zero segments have one network
    call between them, and the notes and pedals are those of running the network on every segment."""
    from midiscribe.engine.piano.config import SEGMENT_SAMPLES
    from midiscribe.engine.piano.model import PianoModel, get_piano_model
    from midiscribe.engine.piano.pipeline import transcribe_piano
    from midiscribe.engine.piano.segments import SegmentPlan

    clip, rate = soundfile.read(piano_clip, dtype="float32")
    audio = np.concatenate([clip, np.zeros((31 * rate, clip.shape[1]), np.float32), clip])
    soundfile.write(tmp_path / "rests.wav", audio, rate, subtype="FLOAT")
    plan = SegmentPlan(8.0)
    padded = np.concatenate([np.zeros((plan.padding_samples, 2), np.float32), audio,
                             np.zeros((SEGMENT_SAMPLES, 2), np.float32)])
    starts = range(0, plan.segment_count(len(audio)) * plan.hop_samples, plan.hop_samples)
    silent = [start for start in starts if not padded[start:start + SEGMENT_SAMPLES].any()]
    assert len(silent) >= 2, silent

    real = get_piano_model()
    stand_in = StandInNetwork()
    model = PianoModel(stand_in, real.front_end, real.scorer, real.heads)
    reused = transcribe_piano(tmp_path / "rests.wav", model=model)
    reused_calls, stand_in.calls = stand_in.calls, 0
    every = transcribe_piano(tmp_path / "rests.wav", model=model, reuse_silence=False)

    assert stand_in.calls == len(starts) and reused_calls == len(starts) - len(silent) + 1
    assert reused.timings["silent_segments_skipped"] == len(silent) - 1
    assert reused.notes == every.notes and reused.pedals == every.pedals and reused.notes


def test_a_failure_while_decoding_stops_the_front_end_and_network_threads(piano_clip, tmp_path):
    """The front end and the network run ahead of the decoder in threads of their own: when the decoding side
    fails (here the progress callback), the error reaches the caller, the network stops a segment or so ahead,
    and no thread of the transcription is left running."""
    import threading

    from midiscribe.engine.piano.model import PianoModel, get_piano_model
    from midiscribe.engine.piano.pipeline import transcribe_piano
    from midiscribe.engine.piano.segments import SegmentPlan

    clip, rate = soundfile.read(piano_clip, dtype="float32")
    audio = np.concatenate([clip] * 8)
    soundfile.write(tmp_path / "long.wav", audio, rate, subtype="FLOAT")
    segments = SegmentPlan(8.0).segment_count(len(audio))
    assert segments >= 7
    real = get_piano_model()
    stand_in = StandInNetwork()
    model = PianoModel(stand_in, real.front_end, real.scorer, real.heads)
    before = set(threading.enumerate())

    def fail(done_s, total_s):
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError, match="stopped by the caller"):
        transcribe_piano(tmp_path / "long.wav", model=model, progress=fail, reuse_silence=False)
    assert [thread.name for thread in set(threading.enumerate()) - before if thread.is_alive()] == []
    assert 1 <= stand_in.calls <= 3 < segments  # the failing segment, and at most two run ahead of it


def test_the_network_gives_a_silent_segment_the_same_output_every_time(piano_clip):
    """What reusing a silent segment's output rests on: the real network, on its threads, is deterministic."""
    from midiscribe.engine.piano.config import SEGMENT_SAMPLES
    from midiscribe.engine.piano.model import get_piano_model

    model = get_piano_model()
    features = model.front_end.features(np.zeros((2, SEGMENT_SAMPLES), np.float32))
    np.testing.assert_array_equal(model.network(features), model.network(features.copy()))


def test_the_8_bit_network_quantises_the_first_layers_weight_products_only():
    """What set-up builds for CPUs with VNNI: the weight products of the first INT8_LAYERS encoder layers in
    8 bits, every other one (and the attention's products of activations) in float32, as chosen; those layers in
    the plain forms and the rest blocked (INT8_FORMS), where the float32 network's are in onnxruntime's fused
    ones."""
    import onnx

    from midiscribe.engine.piano.config import N_LAYERS
    from midiscribe.engine.piano.graph import FEED_FORWARD_BLOCKS, INT8_LAYERS, layer_scope, weight_products
    from midiscribe.engine.piano.model import INT8_NETWORK_FILE, NETWORK_FILE

    try:
        directory = verify_piano_model()
    except ModelNotFoundError as exc:
        pytest.skip(f"the piano model is not set up: {exc.message}")
    full = onnx.load(str(directory / NETWORK_FILE), load_external_data=False)
    quantised = onnx.load(str(directory / INT8_NETWORK_FILE), load_external_data=False)
    first = tuple(layer_scope(index) for index in range(INT8_LAYERS))

    integer = [node for node in quantised.graph.node if node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]
    # A plain layer's weight products: keys and values together, a query and an output per attention, two per
    # feed-forward.
    assert len(integer) == 9 * INT8_LAYERS
    assert all(node.name.startswith(first) for node in integer)
    assert weight_products(quantised, INT8_LAYERS) == []
    later = weight_products(quantised, N_LAYERS)
    # A blocked layer's: four for the keys and values, the attention's four, two per feed-forward and block.
    assert len(later) == (4 + 4 + 4 * FEED_FORWARD_BLOCKS) * (N_LAYERS - INT8_LAYERS)
    assert len(weight_products(quantised, range(INT8_LAYERS, N_LAYERS), ["feed_forward"])) == (
        4 * FEED_FORWARD_BLOCKS * (N_LAYERS - INT8_LAYERS))

    def count(model, op_type):
        return sum(node.op_type == op_type for node in model.graph.node)

    assert count(full, "MultiHeadAttention") == 2 * N_LAYERS
    assert count(quantised, "MultiHeadAttention") == 0
    # The plain and blocked layers' attention: scores and the values they fetch, along frequency and along time.
    attention = [node for node in quantised.graph.node if node.op_type == "MatMul" and node.name not in later]
    assert len(attention) == 2 * 2 * N_LAYERS
    assert count(full, "MatMul") == len(weight_products(full, N_LAYERS))


def test_the_8_bit_network_finds_the_same_notes_velocities_and_pedal(piano_clip):
    """On a CPU with VNNI and ``MIDISCRIBE_PIANO_INT8=auto`` the piano model runs the 8-bit network (float32 is the
    default); its notes (pitch and onset), velocities and held pedal presses stay those of the float32 network on
    the rendered clip."""
    from midiscribe.engine.model import has_vnni
    from midiscribe.engine.piano.model import INT8_ENV, INT8_NETWORK_FILE, NETWORK_FILE, network_file
    from midiscribe.engine.piano.pipeline import transcribe_piano

    if not has_vnni():
        pytest.skip("this CPU has no VNNI (avx512_vnni or avx_vnni in /proc/cpuinfo): the piano model runs float32 "
                    "here, and the 8-bit network is not used")
    directory = verify_piano_model()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(INT8_ENV, raising=False)
        assert network_file(directory) == directory / NETWORK_FILE
        patch.setenv(INT8_ENV, "auto")
        assert network_file(directory) == directory / INT8_NETWORK_FILE
        quick = transcribe_piano(piano_clip, model=load_piano_model())
    exact = transcribe_piano(piano_clip, model=load_piano_model(float32=True))
    assert [note.pitch for note in quick.notes] == [note.pitch for note in exact.notes]
    # Onsets, as the parity target counts notes; not offsets: under the sustain pedal, where a held note ends is
    # the model's closest call (on this clip one chord note ends at its key's release in one network, at the
    # pedal's in the other).
    for fast, slow in zip(quick.notes, exact.notes, strict=True):
        assert abs(fast.start_s - slow.start_s) <= 0.025
        assert abs(fast.model_velocity - slow.model_velocity) <= 5
    # Pedal presses long enough to hold a note (the clip's notes last 0.3-0.4 s); a brief press is the other close
    # call: on a Zen 5 EPYC (avx_vnni, avx512_vnni) the float32 network alone adds one of 0.28 s where the clip has
    # no pedal; on the Zen 4 EPYCs of earlier runs every press of the two networks matched.
    assert {pedal.controller for pedal in quick.pedals} == {pedal.controller for pedal in exact.pedals}
    held_fast, held_slow = _held(quick.pedals), _held(exact.pedals)
    assert held_fast, f"no held pedal press in {quick.pedals}"
    for fast, slow in zip(held_fast, held_slow, strict=True):
        assert fast.controller == slow.controller
        assert abs(fast.start_s - slow.start_s) <= 0.05 and abs(fast.end_s - slow.end_s) <= 0.05


def _held(pedals: list[PedalEvent], shortest_s: float = 0.5) -> list[PedalEvent]:
    return [pedal for pedal in pedals if pedal.end_s - pedal.start_s >= shortest_s]


# ---- without the model ----------------------------------------------------------------------------


def test_the_network_file_follows_the_cpu_and_the_int8_setting(monkeypatch, tmp_path):
    from midiscribe.engine.piano import model as piano_model

    for vnni, setting, expected in ((True, None, "network.onnx"), (True, "auto", "network.int8.onnx"),
                                    (True, " AUTO ", "network.int8.onnx"), (True, " OFF ", "network.onnx"),
                                    (False, None, "network.onnx"), (False, "auto", "network.onnx"),
                                    (True, "", "network.onnx")):
        monkeypatch.setattr(piano_model, "has_vnni", lambda vnni=vnni: vnni)
        if setting is None:
            monkeypatch.delenv(piano_model.INT8_ENV, raising=False)
        else:
            monkeypatch.setenv(piano_model.INT8_ENV, setting)
        assert piano_model.network_file(tmp_path) == tmp_path / expected, (vnni, setting)
    monkeypatch.setenv(piano_model.INT8_ENV, "yes")
    with pytest.raises(ModelNotFoundError, match="MIDISCRIBE_PIANO_INT8 is 'yes': set it to off .* or auto"):
        piano_model.network_file(tmp_path)


def test_the_cpu_flags_say_whether_8_bit_products_sum_without_saturating(monkeypatch):
    from midiscribe.engine import model

    for flags, vnni in (({"avx2", "avx512f", "avx512_vnni"}, True), ({"avx2", "avx_vnni"}, True),
                        ({"avx2", "avx512f", "avx512bw"}, False), (set(), False)):
        monkeypatch.setattr(model, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert model.has_vnni() is vnni
        assert model.has_avx512() is ("avx512f" in flags)


def test_the_model_option_takes_general_or_piano_only():
    assert TranscriptionOptions().transcriber == "general"
    assert TranscriptionOptions.parse({"model": "piano"}).transcriber == "piano"
    # The piano hint runs the piano model unless the general one is asked for by name.
    assert TranscriptionOptions.parse({"instrument": "piano"}).transcriber == "piano"
    assert TranscriptionOptions.parse({"instrument": "piano", "model": "general"}).transcriber == "general"
    assert TranscriptionOptions.parse({"instrument": "drums"}).transcriber == "drums"
    with pytest.raises(InvalidOptionsError, match="drum transcriber"):
        TranscriptionOptions.parse({"instrument": "drums", "model": "piano"})
    with pytest.raises(InvalidOptionsError, match="model=piano"):
        TranscriptionOptions.parse({"basic_pitch_compat": True, "model": "piano"})
    with pytest.raises(InvalidOptionsError, match="model"):
        TranscriptionOptions.parse({"model": "harpsichord"})
    with pytest.raises(SystemExit):
        transcribe_main(["--model", "harpsichord", "x.wav"])


def test_transcribe_piano_comes_from_the_engine_as_the_other_transcribers_do():
    """The README offers `transcribe_piano(..., hop_seconds=14)`; `from midiscribe.engine import
    transcribe_piano` was an ImportError, though transcribe_drums and transcribe_stems import that way."""
    import inspect

    import midiscribe.engine
    from midiscribe.engine import transcribe_piano
    from midiscribe.engine.piano.pipeline import transcribe_piano as in_its_module

    assert transcribe_piano is in_its_module
    assert "transcribe_piano" in midiscribe.engine.__all__
    assert inspect.signature(transcribe_piano).parameters["hop_seconds"].default == 8.0


def test_bad_input_fails_with_the_engines_typed_errors(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n")
    with pytest.raises(NotAudioError):
        transcribe(text, {"model": "piano"})


def test_a_missing_or_damaged_model_names_the_command_that_fixes_it(tmp_path):
    with pytest.raises(ModelNotFoundError, match="midiscribe fetch-model"):
        load_piano_model(tmp_path / "nowhere")
    (tmp_path / "manifest.json").write_text(json.dumps({"model": MODEL_NAME}))
    with pytest.raises(ModelNotFoundError, match="midiscribe fetch-model"):
        verify_piano_model(tmp_path)
    if (model_dir() / "manifest.json").exists():
        damaged = tmp_path / "damaged"
        damaged.mkdir()
        shutil.copy(model_dir() / "manifest.json", damaged / "manifest.json")
        shutil.copy(model_dir() / "weights.npz", damaged / "weights.npz")
        (damaged / "network.onnx").write_bytes(b"truncated")
        with pytest.raises(ModelNotFoundError, match="network.onnx is missing or damaged"):
            verify_piano_model(damaged)
        complete_but_one = tmp_path / "no-int8"
        complete_but_one.mkdir()
        for name in ("manifest.json", "weights.npz", "network.onnx", "scorer.onnx"):
            (complete_but_one / name).symlink_to(model_dir() / name)
        with pytest.raises(ModelNotFoundError, match="network.int8.onnx is missing or damaged"):
            verify_piano_model(complete_but_one)


def _pedalled(pedals: list[PedalEvent]) -> Transcription:
    notes = [NoteEvent(0.5, 1.0, 60, 0.6, model_velocity=90), NoteEvent(0.5, 1.0, 64, 0.3, model_velocity=40)]
    return Transcription(notes=notes, duration_s=3.0, options=TranscriptionOptions(model="piano"), pedals=pedals,
                         family=Family.PIANO)


def test_midi_pedals_are_control_changes_on_a_grand_piano_track():
    transcription = _pedalled([PedalEvent(64, 0.8, 2.0), PedalEvent(67, 0.2, 2.5)])
    buffer = io.BytesIO()
    transcription.write_midi(buffer)
    buffer.seek(0)
    midi = mido.MidiFile(file=buffer)
    changes = []
    for track in midi.tracks:
        now = 0
        for message in track:
            now += message.time
            if message.type == "control_change" and message.control in (64, 67):
                changes.append((round(mido.tick2second(now, midi.ticks_per_beat, 500000), 3), message.control, message.value))
    assert changes == [(0.2, 67, 127), (0.8, 64, 127), (2.0, 64, 0), (2.5, 67, 0)]
    programs = [m.program for track in midi.tracks for m in track if m.type == "program_change"]
    assert programs == [0]
    assert sorted(m.velocity for track in midi.tracks for m in track if m.type == "note_on") == [40, 90]


def _sounding(transcription):
    return sounding_ends(transcription.notes, transcription.pedals)


def test_the_sonification_holds_notes_while_the_sustain_pedal_is_down():
    assert _sounding(_pedalled([PedalEvent(64, 0.8, 2.0)])).tolist() == [2.0, 2.0]
    assert _sounding(_pedalled([PedalEvent(64, 1.2, 2.0)])).tolist() == [1.0, 1.0]  # pressed too late
    assert _sounding(_pedalled([PedalEvent(67, 0.8, 2.0)])).tolist() == [1.0, 1.0]  # the soft pedal sustains nothing

    def energy(transcription, start_s, end_s):
        samples = render(transcription)
        return float(np.sum(samples[int(start_s * 44100) : int(end_s * 44100)] ** 2))

    assert energy(_pedalled([PedalEvent(64, 0.8, 2.0)]), 1.3, 1.9) > 100 * energy(_pedalled([]), 1.3, 1.9)
    with wave.open(io.BytesIO(_wav_bytes(_pedalled([PedalEvent(64, 0.8, 2.0)])))) as reader:
        assert reader.getnframes() == 3 * 44100


def _wav_bytes(transcription: Transcription) -> bytes:
    buffer = io.BytesIO()
    transcription.write_wav(buffer)
    return buffer.getvalue()


def test_a_piano_stems_sound_leaking_into_another_stem_is_dropped_there(piano_clip):
    """A lead stem rests while the piano plays, with the piano leaking into it 25 dB down, then plays its own
    notes. Alone the general model hears the leak as notes; beside the piano stem (the piano model's, metered
    like the others) the lead loses them and keeps its own."""
    from synthesised import KnownNote, synthesise

    from midiscribe.engine import transcribe_stems

    piano, rate = soundfile.read(piano_clip, dtype="float32", always_2d=True)
    own = [KnownNote(79 + 2 * i, 7.0 + 0.5 * i, 7.4 + 0.5 * i) for i in range(4)]
    lead = synthesise(own, 9.5, channels=1)[:, 0]
    lead[: len(piano)] += piano.mean(axis=1)[: len(lead)] * 10 ** (-25 / 20)
    buffer = io.BytesIO()
    soundfile.write(buffer, lead, rate, format="WAV", subtype="FLOAT")

    def leaked(notes) -> list[NoteEvent]:
        return [n for n in notes if n.start_s < 6.5 and any(abs(n.start_s - start) < 0.05 and n.pitch == pitch
                                                             for start, _, pitch, _ in CLIP_NOTES)]

    alone = transcribe(buffer.getvalue(), {"instrument": "winds"})
    assert len(leaked(alone.notes)) >= 3  # the premise: the model hears the leak at full strength
    tracks = {track.name: track for track in transcribe_stems(
        [("lead", buffer.getvalue(), "winds"), ("piano", piano_clip, "piano")]).instrument_tracks()}
    assert leaked(tracks["lead"].notes) == []
    assert [n.pitch for n in tracks["lead"].notes if n.start_s >= 6.9] == [n.pitch for n in alone.notes
                                                                           if n.start_s >= 6.9]
    assert tracks["piano"].notes  # the piano stem itself is not checked


def test_the_level_meter_reads_a_stereo_44_1_khz_stream_as_the_mono_22_05_khz_one():
    from midiscribe.engine.pipeline import LevelMeter

    seconds = np.arange(44100 * 2) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * seconds) * np.minimum(1, seconds)).astype(np.float32)
    stereo, mono = LevelMeter(44100), LevelMeter()
    for block in np.array_split(np.stack([tone, tone], axis=1), 7):  # blocks that do not end on a frame
        list(stereo.measured([block]))
    list(mono.measured([tone[::2]]))
    assert stereo.levels_db().shape == mono.levels_db().shape == (200,)
    assert np.abs(stereo.levels_db()[5:] - mono.levels_db()[5:]).max() < 0.5


def test_another_stems_sound_leaking_into_a_piano_stem_is_dropped_there(piano_clip):
    """The piano stem rests after its clip while a lead stem plays, and the lead leaks into it 35 dB down. Alone
    the piano model hears the leak as notes; beside the lead stem the piano track loses them and keeps its own."""
    from synthesised import KnownNote, synthesise

    from midiscribe.engine import transcribe_stems

    piano, rate = soundfile.read(piano_clip, dtype="float32", always_2d=True)
    lead_part = [KnownNote(67 + 2 * (i % 4), 6.6 + 0.6 * i, 7.1 + 0.6 * i) for i in range(5)]
    lead = synthesise(lead_part, 10.0, channels=1)[:, 0]
    stem = lead * 10 ** (-35 / 20)
    stem[: len(piano)] += piano.mean(axis=1)[: len(stem)]

    def wav(samples) -> bytes:
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
        return buffer.getvalue()

    def leaked(notes) -> list[NoteEvent]:
        return [n for n in notes if any(abs(n.start_s - k.start_s) < 0.05 and n.pitch == k.pitch for k in lead_part)]

    alone = transcribe(wav(stem), {"model": "piano"})
    assert len(leaked(alone.notes)) >= 3  # the premise: the piano model hears the leak
    tracks = {track.name: track for track in transcribe_stems(
        [("piano", wav(stem), "piano"), ("lead", wav(lead), "winds")]).instrument_tracks()}
    assert leaked(tracks["piano"].notes) == []
    own = [n for n in alone.notes if n.start_s < 6.0]
    assert own and [n for n in tracks["piano"].notes if n.start_s < 6.0] == own
