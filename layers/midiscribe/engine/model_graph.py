"""basic-pitch's graph with its costliest convolution rewritten to fill AVX-512's 16-channel blocks.

onnxruntime runs convolutions on x86 in blocks of channels as wide as the CPU's vectors: 16 floats with
AVX-512, 8 with AVX2. basic-pitch's contour convolution (8 channels in and out, 3 × 39 taps over the
harmonic-stacked CQT: time × frequency bins) is padded to 16 in and 16 out with AVX-512, four times its
arithmetic, and took about half of a window's model time there (10.5 of 21.6 ms on one thread,
onnxruntime's profiler on an AMD EPYC, Zen 5).

The rewrite splits the frequency bins into even and odd ones (a polyphase split): an output bin
``f = 2g + p`` reads the padded input at ``f + df = 2(g + k) + q``, so the convolution becomes one of
16 channels in (input phase ``q`` × 8) and 16 out (output phase ``p`` × 8) with 3 × 20 taps over 151
half-rate bins, which fills the blocks exactly: about twice the useful arithmetic, half the padded one.
The result is the same to within float rounding. Measured on the same machine: 15.5–16.2 ms a window
against 23.3–27.6 ms, posteriors within 7.5e-7; on 58 files transcribed both ways, the same notes
(start, end, pitch) and amplitudes within 5.4e-7. With AVX2's 8-channel blocks the original has no
padding to save and the rewrite only doubles the work, so ``model.py`` loads it on AVX-512 CPUs only.

Building it needs the ``onnx`` package, which the worker does not have: :func:`ensure_built` runs at set-up
(``midiscribe fetch-model``, the worker image's build), as the piano model's graph is built; ``model.py``
verifies and loads the result, and never imports this module.
"""

from __future__ import annotations

import json
import sys
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

# The contour convolution, found by its weights' shape and its padding ("same" over 3 × 39).
CONV_WEIGHT_SHAPE = (8, 8, 3, 39)
CONV_PADS = [1, 19, 1, 19]
PHASES = 2


def polyphase_weights(weights: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (16, 16, 3, 20) weights and 16 biases of the polyphase convolution equal to ``weights`` (8, 8, 3, 39)
    with "same" padding along frequency. Output channel ``p * 8 + co`` is output phase ``p`` of channel ``co``;
    input channel ``q * 8 + ci`` is input phase ``q`` of channel ``ci``; tap ``k`` reads bin ``g + k`` of its
    phase, which is tap ``df = 2k + q - p`` of the original."""
    out_channels, in_channels, time_taps, freq_taps = weights.shape
    taps = (freq_taps + PHASES - 1) // PHASES
    rewritten = np.zeros((PHASES * out_channels, PHASES * in_channels, time_taps, taps), dtype=np.float32)
    for p in range(PHASES):
        for q in range(PHASES):
            for k in range(taps):
                df = PHASES * k + q - p
                if 0 <= df < freq_taps:
                    rewritten[p * out_channels:(p + 1) * out_channels, q * in_channels:(q + 1) * in_channels, :, k] = \
                        weights[:, :, :, df]
    return rewritten, np.tile(bias.astype(np.float32), PHASES)


def rewrite(model, freq_bins: int = 264):
    """``model`` (an ``onnx.ModelProto`` of basic-pitch's graph) with its contour convolution replaced by the
    polyphase one, between a split of the frequency bins into phases and their interleaving back. Raises
    ``ValueError`` if the graph does not hold exactly one such convolution."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    found = [index for index, node in enumerate(graph.node) if node.op_type == "Conv" and len(node.input) == 3
             and node.input[1] in initializers and tuple(initializers[node.input[1]].dims) == CONV_WEIGHT_SHAPE
             and _attribute(node, "pads") == CONV_PADS and _attribute(node, "strides") in (None, [1, 1])
             and _attribute(node, "group") in (None, 1)]
    if len(found) != 1:
        raise ValueError(f"expected one {CONV_WEIGHT_SHAPE} 'same' convolution in the graph, found {len(found)}")
    index = found[0]
    node = graph.node[index]
    weights, bias = polyphase_weights(numpy_helper.to_array(initializers[node.input[1]]),
                                      numpy_helper.to_array(initializers[node.input[2]]))
    channels, pad = CONV_WEIGHT_SHAPE[0], CONV_PADS[1]
    padded_bins = (freq_bins + 2 * pad) // PHASES  # 151 bins a phase
    out_bins = freq_bins // PHASES  # 132

    def const(name: str, value) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), f"polyphase_{name}"))
        return f"polyphase_{name}"

    def shape(name: str, dims) -> str:
        return const(f"shape_{name}", np.array(dims, dtype=np.int64))

    source, result = node.input[0], node.output[0]
    nodes = [  # (N, 8, T, 264) -> (N, 2 phases × 8, T, 151) -> conv -> (N, 2 × 8, T, 132) -> (N, 8, T, 264)
        helper.make_node("Pad", [source, shape("pads", [0, 0, 0, pad, 0, 0, 0, pad])], ["polyphase_padded"]),
        helper.make_node("Reshape", ["polyphase_padded", shape("split", [0, 0, 0, padded_bins, PHASES])],
                         ["polyphase_split"]),
        helper.make_node("Transpose", ["polyphase_split"], ["polyphase_phases"], perm=[0, 4, 1, 2, 3]),
        helper.make_node("Reshape", ["polyphase_phases", shape("stack", [0, PHASES * channels, -1, padded_bins])],
                         ["polyphase_input"]),
        helper.make_node("Conv", ["polyphase_input", const("weights", weights), const("bias", bias)],
                         ["polyphase_output"], kernel_shape=list(weights.shape[2:]), pads=[1, 0, 1, 0]),
        helper.make_node("Reshape", ["polyphase_output", shape("unstack", [0, PHASES, channels, -1, out_bins])],
                         ["polyphase_unstacked"]),
        helper.make_node("Transpose", ["polyphase_unstacked"], ["polyphase_interleaved"], perm=[0, 2, 3, 4, 1]),
        helper.make_node("Reshape", ["polyphase_interleaved", shape("bins", [0, channels, 0, -1])], [result]),
    ]
    del graph.node[index]
    for offset, new in enumerate(nodes):
        graph.node.insert(index + offset, new)
    unused = {name for name in node.input[1:]} - {name for other in graph.node for name in other.input}
    kept = [tensor for tensor in graph.initializer if tensor.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def _attribute(node, name: str):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            value = helper.get_attribute_value(attribute)
            return value if isinstance(value, int | float | str | bytes) else list(value)
    return None


def build(source: Path, destination: Path) -> None:
    """Write the rewritten graph of the model file ``source`` to ``destination`` (through a partial file)."""
    import onnx

    model = rewrite(onnx.load(str(source)))
    onnx.checker.check_model(model)
    partial = destination.with_suffix(".part")
    onnx.save(model, str(partial))
    partial.replace(destination)


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
