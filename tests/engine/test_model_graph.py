"""The AVX-512 graph (engine/model_graph.py): the polyphase convolution equals the original, the rewritten
basic-pitch graph gives the same posteriors and notes, and it is built beside the model (as ``midiscribe
fetch-model`` builds it); the session loads it only on an AVX-512 CPU and only when it is intact."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from synthesised import PHRASE, PHRASE_DURATION_S, encode_soundfile, synthesise

from midiscribe.engine import model, model_graph, transcribe
from midiscribe.engine.inference import INPUT_NAME, OUTPUT_NAMES

RNG = np.random.default_rng(7)


def run(graph_or_path, feeds: dict) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    source = graph_or_path if isinstance(graph_or_path, str) else graph_or_path.SerializeToString()
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"]).run(None, feeds)


def one_convolution(target: model_graph.Target, weights: np.ndarray, bias: np.ndarray, frames: int = 20):
    """A graph of one target convolution alone, its "same" padding, followed by a ReLU."""
    out_channels, in_channels, time_taps, freq_taps = target.weight_shape
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv"], kernel_shape=[time_taps, freq_taps],
                              pads=list(target.pads)),
             helper.make_node("Relu", ["conv"], ["y"])]
    graph = helper.make_graph(nodes, "one",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [1, in_channels, frames, target.freq_bins])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")])
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    built.ir_version = 8
    return built


@pytest.mark.parametrize("target", model_graph.TARGETS, ids=lambda target: "x".join(map(str, target.weight_shape)))
def test_each_polyphase_convolution_equals_the_original(target):
    weights = RNG.standard_normal(target.weight_shape).astype(np.float32)
    bias = RNG.standard_normal(target.weight_shape[0]).astype(np.float32)
    x = RNG.standard_normal((1, target.weight_shape[1], 20, target.freq_bins)).astype(np.float32)
    [expected] = run(one_convolution(target, weights, bias), {"x": x})
    rewritten = model_graph.rewrite(one_convolution(target, weights, bias), (target,))
    assert [node.op_type for node in rewritten.graph.node].count("Conv") == 1
    phases = target.phases
    assert (phases * target.weight_shape[0], phases * target.weight_shape[1]) in {
        tuple(t.dims[:2]) for t in rewritten.graph.initializer if len(t.dims) == 4}
    assert "w" not in {t.name for t in rewritten.graph.initializer}  # the original weights are dropped
    [actual] = run(rewritten, {"x": x})
    assert actual.shape == expected.shape == (1, target.weight_shape[0], 20, target.freq_bins)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-5 * np.abs(expected).max())


@pytest.mark.parametrize("target", model_graph.TARGETS, ids=lambda target: "x".join(map(str, target.weight_shape)))
def test_every_original_tap_lands_once_in_each_output_phase(target):
    size = int(np.prod(target.weight_shape))
    weights = np.arange(1, size + 1, dtype=np.float32).reshape(target.weight_shape)
    out_channels = target.weight_shape[0]
    rewritten, bias = model_graph.polyphase_weights(weights, np.arange(out_channels, dtype=np.float32),
                                                    target.phases)
    assert bias.tolist() == list(range(out_channels)) * target.phases
    for phase in range(target.phases):
        taps = rewritten[phase * out_channels:(phase + 1) * out_channels]
        assert sorted(taps[taps != 0].tolist()) == weights.ravel().tolist()


def test_a_graph_without_the_convolution_is_refused():
    target = model_graph.TARGETS[0]
    weights = RNG.standard_normal(target.weight_shape).astype(np.float32)
    graph = one_convolution(target, weights, np.zeros(target.weight_shape[0], np.float32))
    graph.graph.node[0].attribute[1].ints[:] = [0, 0, 0, 0]  # not the "same" padding
    with pytest.raises(ValueError, match="found 0"):
        model_graph.rewrite(graph)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the verified model with its rewritten graph built beside it, as fetch-model builds it."""
    folder = tmp_path_factory.mktemp("model")
    path = folder / "nmp.onnx"
    shutil.copy(model.model_path(), path)
    assert model_graph.ensure_built(path, quiet=True) == folder / "nmp.blocked16.onnx"
    return path


def test_the_graph_is_built_beside_the_model_with_its_manifest(built):
    graph, manifest = model.blocked_graph_paths(built)
    assert graph.name == "nmp.blocked16.onnx" and graph.is_file()
    record = json.loads(manifest.read_text())
    assert record == {"source_sha256": model.MODEL_SHA256, "rewrite_version": model.BLOCKED_REWRITE_VERSION,
                      "sha256": model.sha256_of(graph)}
    assert model.blocked_graph_ready(built)


def test_the_rewritten_graph_gives_basic_pitchs_posteriors_and_notes(built, monkeypatch):
    window = (RNG.standard_normal((1, 43844, 1)) * 0.1).astype(np.float32)
    original = run(str(built), {INPUT_NAME: window})
    rewritten = run(str(model.blocked_graph_paths(built)[0]), {INPUT_NAME: window})
    for name, a, b in zip(OUTPUT_NAMES, original, rewritten, strict=True):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5, err_msg=name)
    clip = encode_soundfile(synthesise(PHRASE, PHRASE_DURATION_S), 44100, "WAV", "PCM_16")
    notes = {}
    for avx512 in (False, True):
        monkeypatch.setattr(model, "has_avx512", lambda avx512=avx512: avx512)
        monkeypatch.setattr(model, "_session", None)
        monkeypatch.setenv(model.MODEL_PATH_ENV, str(built))
        assert model.session_file(built).name == ("nmp.blocked16.onnx" if avx512 else "nmp.onnx")
        notes[avx512] = [(n.start_s, n.end_s, n.pitch, n.amplitude) for n in transcribe(clip).notes]
    assert len(notes[True]) == len(notes[False]) >= len(PHRASE)
    for ours, theirs in zip(notes[True], notes[False], strict=True):
        assert ours[:3] == theirs[:3] and ours[3] == pytest.approx(theirs[3], abs=1e-5)


def test_a_changed_missing_or_stale_graph_is_not_loaded_and_is_built_again(built, monkeypatch, tmp_path):
    path = tmp_path / "nmp.onnx"
    shutil.copy(built, path)
    for name in model.blocked_graph_paths(built):
        shutil.copy(name, tmp_path / name.name)
    graph, manifest = model.blocked_graph_paths(path)
    monkeypatch.setattr(model, "has_avx512", lambda: True)
    assert model.session_file(path) == graph
    graph.write_bytes(graph.read_bytes()[:-1] + b"\0")  # changed since it was built
    assert not model.blocked_graph_ready(path) and model.session_file(path) == path
    model_graph.ensure_built(path, quiet=True)
    assert model.session_file(path) == graph
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "rewrite_version": 0}))  # built by an older rewrite
    assert model.session_file(path) == path
    graph.unlink()
    manifest.unlink()
    assert model.session_file(path) == path
    model_graph.ensure_built(path, quiet=True)
    assert model.blocked_graph_ready(path)
    monkeypatch.setattr(model, "has_avx512", lambda: False)
    assert model.session_file(path) == path  # AVX2's 8-channel blocks: the original is the faster graph


def test_a_rewrite_whose_outputs_differ_is_refused_and_nothing_is_written(built, monkeypatch, tmp_path):
    right = model_graph.polyphase_weights

    def misplaced(weights, bias, phases):
        rewritten, biases = right(weights, bias, phases)
        return rewritten[:, :, :, ::-1].copy(), biases  # the taps in reverse order

    monkeypatch.setattr(model_graph, "polyphase_weights", misplaced)
    destination = tmp_path / "nmp.blocked16.onnx"
    with pytest.raises(ValueError, match="differ from the model's"):
        model_graph.build(built, destination)
    assert list(tmp_path.iterdir()) == []


def test_fetch_model_says_when_the_graph_is_refused_and_exits_non_zero(built, monkeypatch, capsys):
    from midiscribe import cli

    def refused(source, destination):
        raise ValueError("the rewritten graph's outputs differ from the model's by 0.5; not written")

    calls = []
    monkeypatch.setattr(model_graph, "build", refused)
    monkeypatch.setattr("midiscribe.engine.piano.fetch.fetch_piano_model", lambda *a, **k: calls.append(a))
    stale = built.parent / "stale"
    stale.mkdir()
    shutil.copy(built, stale / "nmp.onnx")  # a verified model without its rewritten graph
    assert cli.main(["fetch-model", "--dest", str(stale / "nmp.onnx")]) == 1
    assert "building the AVX-512 graph failed" in capsys.readouterr().err and not calls
