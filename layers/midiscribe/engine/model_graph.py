"""basic-pitch's graph with three convolutions rewritten to fill AVX-512's 16-channel blocks.

onnxruntime runs convolutions on x86 in blocks of channels as wide as the CPU's vectors: 16 floats with
AVX-512, 8 with AVX2. Three of basic-pitch's convolutions have fewer channels than that and are padded up
to it with AVX-512: the contour convolution (8 channels in and out, 3 × 39 taps over the harmonic-stacked
CQT: time × frequency bins; four times its arithmetic, and about half of a window's model time there: 10.5
of 21.6 ms on one thread, onnxruntime's profiler on an AMD EPYC, Zen 5) and the two with one output channel
(8 → 1 over 5 × 5, 32 → 1 over 7 × 3: about 2 ms each).

The rewrite splits the frequency bins into P phases (a polyphase split): an output bin ``f = P·g + p`` reads
the padded input at ``f + df = P·(g + k) + q``, so each convolution becomes one of P times the channels in
(input phase ``q`` × channel) and out (output phase ``p`` × channel) with about KF / P taps along frequency
over P times fewer bins, which fills the blocks: P = 2 for the contour convolution (16 in, 16 out, 3 × 20
taps), P = 16 for the two others (16 outputs). The result is the same to within float rounding. Measured on
the same machine (the contour convolution alone): 15.5–16.2 ms a window against 23.3–27.6 ms, posteriors
within 7.5e-7; on 58 files transcribed both ways, the same notes (start, end, pitch) and amplitudes within
5.4e-7; the two others take a window from 15.2–15.4 ms to 14.1–14.2 ms. With AVX2's 8-channel blocks the
contour convolution has no padding to save and the rewrite only doubles the work, so ``model.py`` loads the
rewritten graph on AVX-512 CPUs only.

Building it needs the ``onnx`` package, which the worker does not have: :func:`ensure_built` runs at set-up
(``midiscribe fetch-model``, the worker image's build), as the piano model's graph is built; ``model.py``
verifies and loads the result, and never imports this module.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import (
    BLOCKED_REWRITE_VERSION,
    MODEL_SHA256,
    blocked_graph_paths,
    blocked_graph_ready,
    sha256_of,
    verify_model,
)


@dataclass(frozen=True)
class Target:
    """A convolution to rewrite, found by its weights' shape and its padding ("same" along frequency), with
    the number of frequency bins it convolves and the phases to split them into."""

    weight_shape: tuple[int, int, int, int]
    pads: tuple[int, int, int, int]
    freq_bins: int
    phases: int


TARGETS = (
    Target((8, 8, 3, 39), (1, 19, 1, 19), 264, 2),  # the contour convolution
    Target((1, 8, 5, 5), (2, 2, 2, 2), 264, 16),  # contours-reduced: the contour posteriorgram's last step
    Target((1, 32, 7, 3), (3, 1, 3, 1), 88, 16),  # the note posteriorgram's last convolution
)


def polyphase_weights(weights: np.ndarray, bias: np.ndarray, phases: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights (P·out, P·in, time taps, K) and biases of the polyphase convolution equal to ``weights``
    (out, in, time taps, KF) with "same" padding along frequency, P = ``phases``. Output channel ``p·out + co``
    is output phase ``p`` of channel ``co``; input channel ``q·in + ci`` is input phase ``q`` of channel
    ``ci``; tap ``k`` reads bin ``g + k`` of its phase, which is tap ``df = P·k + q - p`` of the original."""
    out_channels, in_channels, time_taps, freq_taps = weights.shape
    taps = (phases - 1 + freq_taps - 1) // phases + 1
    rewritten = np.zeros((phases * out_channels, phases * in_channels, time_taps, taps), dtype=np.float32)
    for p in range(phases):
        for q in range(phases):
            for k in range(taps):
                df = phases * k + q - p
                if 0 <= df < freq_taps:
                    rewritten[p * out_channels:(p + 1) * out_channels, q * in_channels:(q + 1) * in_channels, :, k] = \
                        weights[:, :, :, df]
    return rewritten, np.tile(bias.astype(np.float32), phases)


def rewrite(model, targets: tuple[Target, ...] = TARGETS):
    """``model`` (an ``onnx.ModelProto`` of basic-pitch's graph) with each of ``targets`` replaced by its
    polyphase convolution, between a split of the frequency bins into phases and their interleaving back.
    Raises ``ValueError`` if the graph does not hold exactly one convolution matching a target."""
    for number, target in enumerate(targets):
        _rewrite_one(model.graph, target, f"polyphase{number}")
    return model


def _rewrite_one(graph, target: Target, prefix: str) -> None:
    from onnx import helper, numpy_helper

    initializers = {tensor.name: tensor for tensor in graph.initializer}
    found = [index for index, node in enumerate(graph.node) if node.op_type == "Conv" and len(node.input) == 3
             and node.input[1] in initializers and tuple(initializers[node.input[1]].dims) == target.weight_shape
             and _attribute(node, "pads") == list(target.pads) and _attribute(node, "strides") in (None, [1, 1])
             and _attribute(node, "group") in (None, 1)]
    if len(found) != 1:
        raise ValueError(f"expected one {target.weight_shape} 'same' convolution in the graph, found {len(found)}")
    index = found[0]
    node = graph.node[index]
    phases = target.phases
    weights, bias = polyphase_weights(numpy_helper.to_array(initializers[node.input[1]]),
                                      numpy_helper.to_array(initializers[node.input[2]]), phases)
    channels, in_channels, taps = target.weight_shape[0], target.weight_shape[1], weights.shape[3]
    out_bins = -(-target.freq_bins // phases)  # bins a phase; the last phases may run past the end, cut below
    in_bins = out_bins + taps - 1
    left = target.pads[1]
    right = phases * in_bins - target.freq_bins - left

    def const(name: str, value) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), f"{prefix}_{name}"))
        return f"{prefix}_{name}"

    def shape(name: str, dims) -> str:
        return const(f"shape_{name}", np.array(dims, dtype=np.int64))

    source, result = node.input[0], node.output[0]
    interleaved = result if phases * out_bins == target.freq_bins else f"{prefix}_bins"
    nodes = [  # (N, C, T, F) -> (N, P·C, T, in_bins) -> conv -> (N, P·out, T, out_bins) -> (N, out, T, F)
        helper.make_node("Pad", [source, shape("pads", [0, 0, 0, left, 0, 0, 0, right])], [f"{prefix}_padded"]),
        helper.make_node("Reshape", [f"{prefix}_padded", shape("split", [0, 0, 0, in_bins, phases])],
                         [f"{prefix}_split"]),
        helper.make_node("Transpose", [f"{prefix}_split"], [f"{prefix}_phases"], perm=[0, 4, 1, 2, 3]),
        helper.make_node("Reshape", [f"{prefix}_phases", shape("stack", [0, phases * in_channels, -1, in_bins])],
                         [f"{prefix}_input"]),
        helper.make_node("Conv", [f"{prefix}_input", const("weights", weights), const("bias", bias)],
                         [f"{prefix}_output"], kernel_shape=list(weights.shape[2:]),
                         pads=[target.pads[0], 0, target.pads[2], 0]),
        helper.make_node("Reshape", [f"{prefix}_output", shape("unstack", [0, phases, channels, -1, out_bins])],
                         [f"{prefix}_unstacked"]),
        helper.make_node("Transpose", [f"{prefix}_unstacked"], [f"{prefix}_interleaved"], perm=[0, 2, 3, 4, 1]),
        helper.make_node("Reshape", [f"{prefix}_interleaved", shape("bins", [0, channels, 0, -1])], [interleaved]),
    ]
    if interleaved != result:
        nodes.append(helper.make_node("Slice", [interleaved, const("start", np.array([0], dtype=np.int64)),
                                                const("end", np.array([target.freq_bins], dtype=np.int64)),
                                                const("axis", np.array([3], dtype=np.int64))], [result]))
    del graph.node[index]
    for offset, new in enumerate(nodes):
        graph.node.insert(index + offset, new)
    unused = set(node.input[1:]) - {name for other in graph.node for name in other.input}
    kept = [tensor for tensor in graph.initializer if tensor.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _attribute(node, name: str):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            value = helper.get_attribute_value(attribute)
            return value if isinstance(value, int | float | str | bytes) else list(value)
    return None


# How far the rewritten graph's outputs may be from the model's on a check window before the build is refused:
# float rounding gives at most 7e-7 (measured); a misplaced tap or bin gives far more.
CHECK_TOLERANCE = 1e-4


def build(source: Path, destination: Path) -> None:
    """Write the rewritten graph of the model file ``source`` to ``destination`` (through a partial file), once
    its outputs on a check window of noise are within ``CHECK_TOLERANCE`` of the model's (else ``ValueError``)."""
    import onnx

    original = onnx.load(str(source))
    model = onnx.ModelProto()
    model.CopyFrom(original)
    rewrite(model)
    onnx.checker.check_model(model)
    difference = largest_difference(original, model)
    if not difference <= CHECK_TOLERANCE:
        raise ValueError(f"the rewritten graph's outputs differ from the model's by {difference:.2g}; not written")
    partial = destination.with_suffix(".part")
    onnx.save(model, str(partial))
    partial.replace(destination)


def largest_difference(first, second) -> float:
    """The largest difference between two graphs' outputs on one window of seeded noise (a batch of one)."""
    import onnxruntime as ort

    outputs = []
    for model in (first, second):
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        feeds = {item.name: (np.random.default_rng(0).standard_normal(
            [dim if isinstance(dim, int) else 1 for dim in item.shape]) * 0.1).astype(np.float32)
            for item in session.get_inputs()}
        outputs.append(session.run(None, feeds))
    return max(float(np.abs(a - b).max()) for a, b in zip(*outputs, strict=True))


def ensure_built(path: Path, *, quiet: bool = False) -> Path:
    """Build the rewritten graph and its manifest beside the verified model file ``path``, unless a good one is
    there already; the graph's path."""
    graph, manifest_path = blocked_graph_paths(path)
    if blocked_graph_ready(path):
        return graph
    verify_model(path)
    build(path, graph)
    manifest = {"source_sha256": MODEL_SHA256, "rewrite_version": BLOCKED_REWRITE_VERSION, "sha256": sha256_of(graph)}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    if not quiet:
        print(f"AVX-512 graph ready: {graph}", file=sys.stderr)
    return graph
