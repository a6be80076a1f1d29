"""The semi-CRF decoder against brute force: every path of small random score matrices, scored from scratch.

A path from a start frame to the last frame steps either to the next frame (no interval) or over an
interval ``[begin, end]``. Its value is the sum of its intervals' scores plus, for every frame it
visits (is not strictly inside one of its intervals), the frame's singleton score if positive; its
output is its intervals, each visited frame with a positive singleton also being ``[frame, frame]``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from midiscribe.engine.piano.decode import IntervalScores, decode


def every_path(start: int, frames: int):
    """Each path as a list of (from, to, is_interval) steps."""
    if start >= frames - 1:
        yield []
        return
    inner = range(start + 1, frames - 1)
    for size in range(len(inner) + 1):
        for stops in itertools.combinations(inner, size):
            visited = [start, *stops, frames - 1]
            steps = list(zip(visited, visited[1:], strict=False))
            # A one-frame step may be a skip or an interval; a longer one must be an interval.
            for choices in itertools.product(*[(False, True) if b == a + 1 else (True,) for a, b in steps]):
                yield [(a, b, chosen) for (a, b), chosen in zip(steps, choices, strict=True)]


def brute_force(scores: np.ndarray, singletons: np.ndarray, start: int) -> tuple[float, list[tuple[int, int]]]:
    frames = len(singletons)
    best_value, best_output = -np.inf, None
    for path in every_path(start, frames):
        visited = sorted({start, *(b for _, b, _ in path)}) if start < frames - 1 else [frames - 1]
        value = sum(float(scores[a, b]) for a, b, chosen in path if chosen)
        value += sum(max(float(singletons[j]), 0.0) for j in visited)
        output = []
        for j in visited[:-1] if start < frames - 1 else []:
            if singletons[j] > 0:
                output.append((j, j))
            output.extend((a, b) for a, b, chosen in path if chosen and a == j)
        if singletons[frames - 1] > 0:
            output.append((frames - 1, frames - 1))
        if value > best_value:
            best_value, best_output = value, output
    return best_value, best_output


@pytest.mark.parametrize("seed", range(12))
def test_every_track_gets_the_best_path_brute_force_finds(seed):
    rng = np.random.default_rng(seed)
    tracks, frames = 7, int(rng.integers(2, 8))
    # Scores with both signs, so paths mix intervals, skips and singletons.
    scores = rng.normal(0.0, 1.0, size=(tracks, frames, frames)).astype(np.float32)
    singletons = rng.normal(-0.2, 1.0, size=(tracks, frames)).astype(np.float32)
    starts = rng.integers(0, frames + 1, size=tracks)

    found = decode(scores, singletons, starts)

    for track in range(tracks):
        _, expected = brute_force(scores[track], singletons[track], int(starts[track]))
        mine = found.track == track
        got = list(zip(found.begin[mine].tolist(), found.end[mine].tolist(), strict=True))
        assert got == expected, f"track {track}, start {starts[track]}, {frames} frames"


def test_intervals_are_what_a_long_strong_score_says():
    frames = 40
    scores = np.full((2, frames, frames), -5.0, dtype=np.float32)
    singletons = np.full((2, frames), -1.0, dtype=np.float32)
    scores[0, 3, 17] = 50.0  # one long note on track 0
    scores[1, 5, 9] = 10.0  # two notes touching end to start on track 1
    scores[1, 9, 30] = 10.0
    singletons[1, 35] = 2.0  # and a one-frame event

    found = decode(scores, singletons, np.array([0, 0]))

    assert list(zip(found.track.tolist(), found.begin.tolist(), found.end.tolist(), strict=True)) == [
        (0, 3, 17), (1, 5, 9), (1, 9, 30), (1, 35, 35)]
    later = decode(scores, singletons, np.array([4, 6]))  # starting past an interval's beginning skips it
    assert list(zip(later.track.tolist(), later.begin.tolist(), strict=True)) == [(1, 9), (1, 35)]


def test_scores_computed_block_by_block_decode_as_the_whole_matrix_does():
    rng = np.random.default_rng(7)
    tracks, frames, size = 5, 150, 16  # more frames than one block of rows
    query = rng.normal(0, 0.3, size=(tracks, frames, size)).astype(np.float32)
    key = rng.normal(0, 0.3, size=(tracks, frames, size)).astype(np.float32)
    singletons = rng.normal(-0.5, 1.0, size=(tracks, frames)).astype(np.float32)
    lengths = np.abs(np.arange(frames)[None, :] - np.arange(frames)[:, None]).astype(np.float32)
    whole = np.einsum("tbd,ted->tbe", key, query) * lengths
    starts = np.array([0, 3, 70, 149, 200])

    blocked = decode(IntervalScores(query, key), singletons, starts)
    dense = decode(whole, singletons, starts)

    assert len(dense) > 10
    for name in ("track", "begin", "end"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(dense, name))


@pytest.mark.parametrize("cpus", [2, 3, 8])
def test_tracks_decoded_side_by_side_in_a_pool_give_the_same_intervals(monkeypatch, cpus):
    from concurrent.futures import ThreadPoolExecutor

    from midiscribe.engine.piano import decode as decoding

    monkeypatch.setattr(decoding, "available_cpus", lambda: cpus)  # slices of 5 tracks: 3+2, 2+1+2, 1 each
    rng = np.random.default_rng(11)
    tracks, frames, size = 5, 150, 16
    query = rng.normal(0, 0.3, size=(tracks, frames, size)).astype(np.float32)
    key = rng.normal(0, 0.3, size=(tracks, frames, size)).astype(np.float32)
    singletons = rng.normal(-0.5, 1.0, size=(tracks, frames)).astype(np.float32)
    starts = np.array([0, 3, 70, 149, 200])

    alone = decode(IntervalScores(query, key), singletons, starts)
    with ThreadPoolExecutor(cpus) as pool:
        split = decode(IntervalScores(query, key), singletons, starts, pool)

    assert len(alone) > 10
    for name in ("track", "begin", "end"):
        np.testing.assert_array_equal(getattr(split, name), getattr(alone, name))


def test_an_error_in_one_slice_of_tracks_is_raised_not_lost():
    from concurrent.futures import ThreadPoolExecutor

    from midiscribe.engine.piano.decode import over_tracks

    def work(part: slice) -> None:
        if part.start > 0:
            raise RuntimeError("slice failed")

    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="slice failed"):
        over_tracks(pool, 4, work)


def test_the_scorer_graph_gives_transkuns_queries_keys_and_singletons_frame_by_frame():
    """The folded scorer graph against transkun's two steps written out: the stride-8 transposed
    convolution of each track's tokens to frames, then the projection of every frame (in float64)."""
    import onnxruntime as ort

    from midiscribe.engine.piano.config import SCORE_SIZE, SEGMENT_FRAMES, STEPS, UPSAMPLE_PHASES
    from midiscribe.engine.piano.graph import build_scorer_graph
    from midiscribe.engine.piano.scorer import IntervalScorer

    rng = np.random.default_rng(3)
    weights = {
        "backbone.upConv1dSkip.weight": rng.normal(0, 0.1, (SCORE_SIZE, SCORE_SIZE, UPSAMPLE_PHASES)),
        "backbone.upConv1dSkip.bias": rng.normal(0, 0.1, SCORE_SIZE),
        "scorer.map.0.weight": rng.normal(0, 0.1, (2 * SCORE_SIZE + 1, SCORE_SIZE)),
        "scorer.map.0.bias": rng.normal(0, 0.1, 2 * SCORE_SIZE + 1),
    }
    session = ort.InferenceSession(build_scorer_graph(weights).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    context = rng.normal(0, 1, (7, STEPS, SCORE_SIZE)).astype(np.float32)

    scores, singletons = IntervalScorer(session)(context)

    # Transposed convolution, kernel 8, stride 8: frame 8·step + phase = token[step] @ W[:, :, phase] + b.
    up = np.einsum("tsi,iop->tspo", context.astype(np.float64), weights["backbone.upConv1dSkip.weight"])
    frames = up.reshape(7, STEPS * UPSAMPLE_PHASES, SCORE_SIZE) + weights["backbone.upConv1dSkip.bias"]
    frames = frames[:, :SEGMENT_FRAMES]
    mapped = frames @ weights["scorer.map.0.weight"].T + weights["scorer.map.0.bias"]
    query, key = mapped[..., :SCORE_SIZE] / np.sqrt(SCORE_SIZE), mapped[..., SCORE_SIZE : 2 * SCORE_SIZE]
    assert scores.query.shape == scores.key.shape == (7, SEGMENT_FRAMES, SCORE_SIZE)
    np.testing.assert_allclose(scores.query, query, rtol=0, atol=2e-5)
    np.testing.assert_allclose(scores.key, key, rtol=0, atol=2e-5)
    np.testing.assert_allclose(singletons, mapped[..., -1], rtol=0, atol=2e-5)


def _random_encoder_layer(rng, index: int) -> dict[str, np.ndarray]:
    from midiscribe.engine.piano.config import MODEL_SIZE

    hidden = 4 * MODEL_SIZE
    weights = {}
    for block in ("mhaBlockF", "mhaBlockT"):
        prefix = f"backbone.encoderLayers.{index}.{block}"
        weights[f"{prefix}.scale"] = rng.uniform(0.5, 1.5, MODEL_SIZE)
        for name in ("q", "k", "v"):
            weights[f"{prefix}.module.{name}_proj_weight"] = rng.normal(0, MODEL_SIZE**-0.5, (MODEL_SIZE, MODEL_SIZE))
        weights[f"{prefix}.module.out_proj.weight"] = rng.normal(0, MODEL_SIZE**-0.5, (MODEL_SIZE, MODEL_SIZE))
        weights[f"{prefix}.module.out_proj.bias"] = rng.normal(0, 0.1, MODEL_SIZE)
    for block in ("fnnBlockF", "fnnBlockT"):
        prefix = f"backbone.encoderLayers.{index}.{block}"
        weights[f"{prefix}.scale"] = rng.uniform(0.5, 1.5, MODEL_SIZE)
        weights[f"{prefix}.module.0.weight"] = rng.normal(0, MODEL_SIZE**-0.5, (hidden, MODEL_SIZE))
        weights[f"{prefix}.module.0.bias"] = rng.normal(0, 0.1, hidden)
        weights[f"{prefix}.module.3.weight"] = rng.normal(0, hidden**-0.5, (MODEL_SIZE, hidden))
        weights[f"{prefix}.module.3.bias"] = rng.normal(0, 0.1, MODEL_SIZE)
    return {name: value.astype(np.float32) for name, value in weights.items()}


def _run_encoder_layer(tmp_path, weights, tokens, last: bool, form: str):
    """(output, the op types of onnxruntime's optimised graph) of one encoder layer in ``form``."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from midiscribe.engine.piano import graph

    builder = graph._Builder()
    out = graph._encoder_layer(builder, "tokens", weights, 2, last=last, form=form)
    model = helper.make_model(
        helper.make_graph(builder.nodes, "layer", [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], builder.initializers),
        opset_imports=[helper.make_opsetid("", graph.OPSET), helper.make_opsetid(graph.CONTRIB_DOMAIN, 1)])
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / f"optimised-{form}.onnx")
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    output = session.run(None, {"tokens": tokens})[0]
    return output, {node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node}


@pytest.mark.parametrize("last", [False, True], ids=["inner layer", "last layer"])
def test_an_encoder_layer_in_each_form_computes_what_the_plain_one_does(tmp_path, last):
    """The float32 network's layers are written for onnxruntime's fused kernels: they must give the plain
    layer's output to float32 rounding, and onnxruntime must find the kernels they are written for (attention
    and the RMS norms fused, not left as their parts). The blocked form (the 8-bit network's) gives it to the
    bit."""
    from midiscribe.engine.piano import graph
    from midiscribe.engine.piano.config import BANDS, MODEL_SIZE, N_TRACKS, STEPS

    rng = np.random.default_rng(11)
    weights = _random_encoder_layer(rng, 2)
    tokens = rng.normal(0, 1, (STEPS + 1, BANDS + 1 + N_TRACKS, MODEL_SIZE)).astype(np.float32)
    outputs, kernels = {}, {}
    for form in graph.LAYER_FORMS:
        outputs[form], kernels[form] = _run_encoder_layer(tmp_path, weights, tokens, last, form)

    plain, fused = outputs[graph.PLAIN], outputs[graph.FUSED]
    assert fused.shape == plain.shape == (STEPS + 1, N_TRACKS if last else tokens.shape[1], MODEL_SIZE)
    error = np.sqrt(np.mean((fused - plain) ** 2) / np.mean(plain**2))
    assert error < 1e-6, f"relative RMS difference {error:.2e}"
    np.testing.assert_allclose(fused, plain, rtol=0, atol=1e-4 * np.abs(plain).max())
    assert {"MultiHeadAttention", "SimplifiedLayerNormalization"} <= kernels[graph.FUSED]
    assert not {"Softmax", "Pow", "Sqrt"} & kernels[graph.FUSED]
    assert {"Softmax", "Pow"} <= kernels[graph.PLAIN] and {"Softmax", "Pow"} <= kernels[graph.BLOCKED]
    np.testing.assert_array_equal(outputs[graph.BLOCKED], plain)


def test_an_encoder_layers_weight_products_are_named_by_layer_and_part():
    """What ``weight_products`` selects by (the 8-bit network's choice of products): per layer, the keys' and
    values' product (four apart but in the plain form), the queries' and outputs' two each, and the feed-forward's
    two per block of time steps."""
    from onnx import helper

    from midiscribe.engine.piano import graph

    rng = np.random.default_rng(3)
    weights = _random_encoder_layer(rng, 2)
    counts = {}
    for form in graph.LAYER_FORMS:
        builder = graph._Builder()
        graph._encoder_layer(builder, "tokens", weights, 2, form=form)
        model = helper.make_model(helper.make_graph(builder.nodes, "layer", [], [], builder.initializers))
        counts[form] = [len(graph.weight_products(model, [2], [part])) for part in graph.LAYER_PARTS]
        assert graph.weight_products(model, 2) == [] and graph.weight_products(model, [1, 3]) == []
        assert len(graph.weight_products(model, 3)) == sum(counts[form])
    blocks = graph.FEED_FORWARD_BLOCKS
    assert counts == {graph.PLAIN: [1, 4, 4], graph.BLOCKED: [4, 4, 4 * blocks], graph.FUSED: [4, 4, 4 * blocks]}
    with pytest.raises(ValueError, match="one of plain, blocked, fused"):
        graph._encoder_layer(graph._Builder(), "tokens", weights, 2, form="quick")
