"""The transkun 2.0 network, from log-mel features to interval scores, as an ONNX graph built from its weights.

Built once at set-up (``midiscribe fetch-model``) with the ``onnx`` package's helper API and cached, with an
8-bit variant of it (``quantised_network``); at run time only onnxruntime loads one of them. The graph is transkun's ``Backbone`` followed by its
``ScaledInnerProductIntervalScorer``, computed the same way with some algebra folded into the weights:

- input convolution plus a learned frequency embedding; a convolutional stack downsamples time by 8
  and frequency by 4 (zero padding folded into the first convolution's pads, GroupNorm written as
  InstanceNormalization over groups);
- an 89 × (59 + 90) grid of tokens: 88 time steps plus an aggregation step, 58 frequency bands plus
  an aggregation band, and 90 target tracks (sustain pedal, soft pedal, MIDI 21–108) whose tokens
  start as learned position embeddings. Six blocks alternate attention along frequency and along
  time, each followed by a feed-forward layer; queries come from the RMS-normalised stream, keys and
  values from the block's (unnormalised) input, residuals are scaled per channel (folded into the
  output projections) and the 1/sqrt(head size) factor is folded into the query projection;
- the output is the target tokens, ``context[track, step, 256]`` for 90 tracks × 88 steps, so the
  last block carries only those tokens past its attention's keys and values (the rest of its work on
  the other 59 columns would be thrown away; the output is the same to the bit). What
  follows in transkun is linear (a stride-8 transposed convolution back to frames, then the scorer's
  projection): a second, small graph (``build_scorer_graph``) turns the tokens into each frame's query,
  key and singleton score, and the note heads (``heads.py``, numpy) read the tokens at the few frames
  they need. So the network's session never holds the per-frame tensors beside its own activations.

Encoder layers can be written in three forms with the same arithmetic (``LAYER_FORMS``): the plain one, which
the 8-bit network quantises; a blocked one (the feed-forward in blocks of time steps), which onnxruntime runs
faster to the same bit in float32; and a fused one (onnxruntime's MultiHeadAttention and
SimplifiedLayerNormalization kernels too), faster still, whose sums round differently. The float32 network is
fused throughout; the 8-bit one is plain in its quantised layers and blocked in the rest (``INT8_FORMS``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .config import (
    BANDS,
    DOWNSAMPLE_STRIDES,
    HEAD_SIZE,
    MODEL_SIZE,
    N_HEADS,
    N_LAYERS,
    N_MELS,
    N_TRACKS,
    N_WINDOWS,
    SCORE_SIZE,
    SEGMENT_FRAMES,
    STEPS,
    TARGET_PITCHES,
    UPSAMPLE_PHASES,
    conv_out,
)
from .numerics import gelu

RMS_EPS = 1e-6
GROUP_NORM_EPS = 1e-5
GROUP_NORM_GROUPS = 4
OPSET = 17
# Names of the weight products start with their layer's scope and then this (``weight_products``).
LINEAR_PREFIX = "linear_"
# The 8-bit network (``quantised_network``) quantises the weight products of the first INT8_LAYERS of the six
# encoder layers; the last ones stay in float32. Chosen on the piano dev set's choosing half (bench/piano.py,
# 6 files), by parity with transkun: sustain-pedal intervals matched 0.938 with the first 4 or 5 layers in
# 8 bits (below the 0.95 the parity target asks), 0.962 with the first 3; note F1 0.9985-0.9989 and velocities
# 100 % within 5 in all. All six in 8 bits: 0.704 over both halves, from pedal presses in quiet endings.
# bench/README.md has the speed.
INT8_LAYERS = 3
# Blocks of 4, 8 or 16 time steps for the fused feed-forward ran alike (1.348, 1.337, 1.340 s a segment of the
# 8-bit network with its float32 layers fused).
FEED_FORWARD_BLOCKS = 8
CONTRIB_DOMAIN = "com.microsoft"
# The forms an encoder layer is written in (``_encoder_layer``), all with the same arithmetic:
# - PLAIN: the keys' and values' four products as one, split in four; the feed-forward over every time step;
# - BLOCKED: four products; the feed-forward in FEED_FORWARD_BLOCKS blocks of time steps that share the weights.
#   In float32, onnxruntime's output is PLAIN's to the bit; quantised, each block's activations get a scale
#   of their own;
# - FUSED: BLOCKED, with the RMS norms as SimplifiedLayerNormalization and attention as one MultiHeadAttention
#   (onnxruntime's fused kernels). The output moves by float32 rounding (the order of the sums).
PLAIN, BLOCKED, FUSED = "plain", "blocked", "fused"
LAYER_FORMS = (PLAIN, BLOCKED, FUSED)
# The 8-bit network's layers: plain where quantised (``quantised_network`` says why), blocked in float32 after.
# Blocked, its output is the plain one's to the bit and a segment ran 2-5 % faster on the Zen 4 EPYC with
# 2 CPUs (medians of 20 and 30 alternating runs on real segments: 1.483 -> 1.461 s, 1.643 -> 1.557 s).
INT8_FORMS = (PLAIN,) * INT8_LAYERS + (BLOCKED,) * (N_LAYERS - INT8_LAYERS)
# The parts of a layer whose weight products are named apart (``weight_products``).
LAYER_PARTS = ("keys", "attention", "feed_forward")
# The downsampling convolutions and their group norms, in order (strides in config.DOWNSAMPLE_STRIDES).
_CONV_STEPS = (("backbone.downConv.1", "backbone.downConv.2"), ("backbone.downConv.5", "backbone.downConv.6"),
               ("backbone.downConv.9", "backbone.downConv.10"), ("backbone.downConv.13", "backbone.downConv.14"))


def position_embedding(weights: Mapping[str, np.ndarray], prefix: str, *coords: np.ndarray) -> np.ndarray:
    """transkun's ``LearnableSpatialPositionEmbedding`` over the grid of ``coords``, in float32 as torch runs it."""
    grid = np.stack(np.meshgrid(*coords, indexing="ij"), axis=-1).astype(np.float32)
    phi = grid @ weights[f"{prefix}.proj.weight"].T + weights[f"{prefix}.proj.bias"]
    z = np.cos(phi) / np.float32(math.sqrt(phi.shape[-1] / 2))
    hidden = gelu(z @ weights[f"{prefix}.mlp.0.weight"].T + weights[f"{prefix}.mlp.0.bias"])
    return hidden @ weights[f"{prefix}.mlp.3.weight"].T + weights[f"{prefix}.mlp.3.bias"]


class _Builder:
    """Collects nodes and initialisers; each op returns the name of its output."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes = []
        self.initializers = []
        self._count = 0
        self.scope = ""  # prefixes the names of the weight products (``linear``), e.g. "layer0/keys/"

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array: np.ndarray, hint: str = "c") -> str:
        name = self._name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, output: str | None = None,
           name: str | None = None, **attrs) -> str:
        output = output or self._name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def split(self, x: str, sizes: list[int], hints=None, axis: int = -1) -> list[str]:
        """Split ``axis`` (the last) into parts of ``sizes``; ``hints`` may name the outputs exactly."""
        outputs = list(hints) if hints else [self._name("part") for _ in sizes]
        sizes_name = self.const(np.array(sizes, dtype=np.int64), "sizes")
        self.nodes.append(self.helper.make_node("Split", [x, sizes_name], outputs, axis=axis))
        return outputs

    def shape(self, dims) -> str:
        return self.const(np.array(dims, dtype=np.int64), "shape")

    def reshape(self, x: str, dims) -> str:
        return self.op("Reshape", [x, self.shape(dims)])

    def transpose(self, x: str, perm) -> str:
        return self.op("Transpose", [x], perm=list(perm))

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None = None) -> str:
        """``x @ weight (+ bias)``; ``weight`` is (in, out)."""
        return self.product(x, self.weight(weight), None if bias is None else self.const(bias.astype(np.float32), "b"))

    def gelu(self, x: str) -> str:
        # The erf form; onnxruntime fuses it into one Gelu kernel.
        scaled = self.op("Div", [x, self.const(np.array(math.sqrt(2.0), dtype=np.float32))])
        erf = self.op("Erf", [scaled])
        one_plus = self.op("Add", [erf, self.const(np.array(1.0, dtype=np.float32))])
        half_x = self.op("Mul", [x, self.const(np.array(0.5, dtype=np.float32))])
        return self.op("Mul", [half_x, one_plus])

    def rms_norm(self, x: str, fused: bool = False) -> str:
        squared = self.op("Pow", [x, self.const(np.array(2.0, dtype=np.float32))])
        mean = self.op("ReduceMean", [squared], axes=[-1], keepdims=1)
        root = self.op("Sqrt", [self.op("Add", [mean, self.const(np.array(RMS_EPS, dtype=np.float32))])])
        normed = self.op("Div", [x, root])
        if not fused:
            return normed
        # transkun's RMS norm has no gain; a gain of ones is what onnxruntime needs to see the pattern and run
        # it as one SimplifiedLayerNormalization kernel.
        return self.op("Mul", [normed, self.const(np.ones(MODEL_SIZE, dtype=np.float32), "ones")])

    def weight(self, array: np.ndarray) -> str:
        """A float32 constant for ``product`` (several products may share one)."""
        return self.const(array.astype(np.float32), "w")

    def product(self, x: str, weight: str, bias: str | None = None) -> str:
        """``x @ weight (+ bias)`` with constants already made, named for ``weight_products`` (uniquely: products
        may share a weight)."""
        y = self.op("MatMul", [x, weight], name=f"{self.scope}{LINEAR_PREFIX}{self._name(weight)}")
        return self.op("Add", [y, bias]) if bias is not None else y

    def group_norm(self, x: str, channels: int, height: int, width: int, gamma: np.ndarray, beta: np.ndarray) -> str:
        grouped = self.reshape(x, [1, GROUP_NORM_GROUPS, -1])
        ones = self.const(np.ones(GROUP_NORM_GROUPS, dtype=np.float32))
        zeros = self.const(np.zeros(GROUP_NORM_GROUPS, dtype=np.float32))
        normed = self.op("InstanceNormalization", [grouped, ones, zeros], epsilon=GROUP_NORM_EPS)
        back = self.reshape(normed, [1, channels, height, width])
        scaled = self.op("Mul", [back, self.const(gamma.reshape(channels, 1, 1).astype(np.float32))])
        return self.op("Add", [scaled, self.const(beta.reshape(channels, 1, 1).astype(np.float32))])

    def conv(self, x: str, weight: np.ndarray, bias: np.ndarray, strides, pads) -> str:
        return self.op("Conv", [x, self.const(weight.astype(np.float32), "w"), self.const(bias.astype(np.float32), "b")],
                       kernel_shape=list(weight.shape[2:]), strides=list(strides), pads=list(pads))


def _attention(g: _Builder, normed: str, keys: str, values: str, w: Mapping[str, np.ndarray], prefix: str,
               along_time: bool, fused: bool = False) -> str:
    """Multi-head attention over one axis of the (time, token) grid; returns the scaled residual update.

    ``normed`` is (T, F, D); ``keys``/``values`` are the block input already projected, (T, F, D).
    ``fused``: as one ``MultiHeadAttention`` (onnxruntime's contrib op), which reads the (T, F, D) layout as
    it is along frequency and needs only time and frequency swapped along time.
    """
    module = f"{prefix}.module"
    scale = w[f"{prefix}.scale"]
    out_weight = w[f"{module}.out_proj.weight"].T * scale
    out_bias = w[f"{module}.out_proj.bias"] * scale
    if fused:
        q, k, v = g.linear(normed, w[f"{module}.q_proj_weight"]), keys, values
        if along_time:  # sequences run along time: (F, T, D)
            q, k, v = (g.transpose(t, (1, 0, 2)) for t in (q, k, v))
        fetched = g.op("MultiHeadAttention", [q, k, v], domain=CONTRIB_DOMAIN, num_heads=N_HEADS,
                       scale=1.0 / math.sqrt(HEAD_SIZE))
        if along_time:
            fetched = g.transpose(fetched, (1, 0, 2))
        return g.linear(fetched, out_weight, out_bias)
    query_weight = w[f"{module}.q_proj_weight"] / math.sqrt(HEAD_SIZE)
    q = g.reshape(g.linear(normed, query_weight), [STEPS + 1, -1, N_HEADS, HEAD_SIZE])
    k = g.reshape(keys, [STEPS + 1, -1, N_HEADS, HEAD_SIZE])
    v = g.reshape(values, [STEPS + 1, -1, N_HEADS, HEAD_SIZE])
    if along_time:  # sequences run along time: one per token column
        q, k, v = g.transpose(q, (1, 2, 0, 3)), g.transpose(k, (1, 2, 3, 0)), g.transpose(v, (1, 2, 0, 3))
    else:  # sequences run along the tokens of one time step
        q, k, v = g.transpose(q, (0, 2, 1, 3)), g.transpose(k, (0, 2, 3, 1)), g.transpose(v, (0, 2, 1, 3))
    weights = g.op("Softmax", [g.op("MatMul", [q, k])], axis=-1)
    fetched = g.op("MatMul", [weights, v])
    fetched = g.transpose(fetched, (2, 0, 1, 3) if along_time else (0, 2, 1, 3))
    fetched = g.reshape(fetched, [STEPS + 1, -1, MODEL_SIZE])
    return g.linear(fetched, out_weight, out_bias)


def _feed_forward(g: _Builder, x: str, w: Mapping[str, np.ndarray], prefix: str, form: str = PLAIN) -> str:
    """Blocked (``BLOCKED`` and ``FUSED``): in FEED_FORWARD_BLOCKS blocks of time steps sharing the weights (each
    block's 4x wider hidden activations stay in the CPU's cache); ``FUSED`` with the norm in its fusable form."""
    module = f"{prefix}.module"
    scale = w[f"{prefix}.scale"]
    first = g.weight(w[f"{module}.0.weight"].T), g.const(w[f"{module}.0.bias"].astype(np.float32), "b")
    second = (g.weight(w[f"{module}.3.weight"].T * scale),
              g.const((w[f"{module}.3.bias"] * scale).astype(np.float32), "b"))
    if form == PLAIN:
        hidden = g.gelu(g.product(g.rms_norm(x), *first))
        return g.op("Add", [x, g.product(hidden, *second)])
    size = -(-(STEPS + 1) // FEED_FORWARD_BLOCKS)
    sizes = [min(size, STEPS + 1 - begin) for begin in range(0, STEPS + 1, size)]
    blocks = []
    for part in g.split(x, sizes, axis=0):
        hidden = g.gelu(g.product(g.rms_norm(part, fused=form == FUSED), *first))
        blocks.append(g.op("Add", [part, g.product(hidden, *second)]))
    return g.op("Concat", blocks, axis=0)


def _target_columns(g: _Builder, x: str) -> str:
    """The target tracks' tokens of a (T, F, D) grid: the last ``N_TRACKS`` columns."""
    return g.op("Slice", [x, g.const(np.array([BANDS + 1], dtype=np.int64)),
                          g.const(np.array([BANDS + 1 + N_TRACKS], dtype=np.int64)),
                          g.const(np.array([1], dtype=np.int64))])


def _encoder_layer(g: _Builder, x: str, w: Mapping[str, np.ndarray], index: int, last: bool = False,
                   form: str = PLAIN) -> str:
    """One block. In the ``last``, only the target tracks' tokens are carried on (the output is theirs):
    they still attend to every band, but the other tokens' updates, feed-forward and attention along
    time, which nothing reads, are not computed (about a third of the block's work).

    ``form`` (LAYER_FORMS) writes the same arithmetic in one of three ways. Its weight products are named
    ``<layer scope><part>/linear_...`` with the part one of LAYER_PARTS, for ``weight_products``.
    """
    if form not in LAYER_FORMS:
        raise ValueError(f"an encoder layer's form is one of {', '.join(LAYER_FORMS)}, not {form!r}")
    prefix = f"backbone.encoderLayers.{index}"
    scope = layer_scope(index)
    g.scope = f"{scope}keys/"
    if form == PLAIN:
        projections = np.concatenate([w[f"{prefix}.mhaBlock{axis}.module.{name}_proj_weight"]
                                      for axis in ("F", "T") for name in ("k", "v")], axis=1)
        key_f, value_f, key_t, value_t = g.split(g.linear(x, projections), [MODEL_SIZE] * 4)
        if last:
            x, key_t, value_t = _target_columns(g, x), _target_columns(g, key_t), _target_columns(g, value_t)
    else:
        key_f, value_f = (g.linear(x, w[f"{prefix}.mhaBlockF.module.{name}_proj_weight"]) for name in ("k", "v"))
        if last:
            x = _target_columns(g, x)
        key_t, value_t = (g.linear(x, w[f"{prefix}.mhaBlockT.module.{name}_proj_weight"]) for name in ("k", "v"))
    fused = form == FUSED
    g.scope = f"{scope}attention/"
    h = g.op("Add", [x, _attention(g, g.rms_norm(x, fused), key_f, value_f, w, f"{prefix}.mhaBlockF",
                                   along_time=False, fused=fused)])
    g.scope = f"{scope}feed_forward/"
    h = _feed_forward(g, h, w, f"{prefix}.fnnBlockF", form)
    g.scope = f"{scope}attention/"
    h = g.op("Add", [h, _attention(g, g.rms_norm(h, fused), key_t, value_t, w, f"{prefix}.mhaBlockT",
                                   along_time=True, fused=fused)])
    g.scope = f"{scope}feed_forward/"
    out = _feed_forward(g, h, w, f"{prefix}.fnnBlockT", form)
    g.scope = ""
    return out


def build_graph(w: Mapping[str, np.ndarray], forms: Sequence[str] = (FUSED,) * N_LAYERS):
    """The ``onnx.ModelProto`` for transkun 2.0's network with the weights ``w`` (its state dict), its encoder
    layers in ``forms`` (one per layer, LAYER_FORMS).

    Fused, on the Zen 4 EPYC with 2 CPUs, the float32 network took 1.87 s a segment against 2.06 s, with the
    same notes, velocities and pedals as transkun on both parity sets (bench/README.md)."""
    from onnx import TensorProto, checker, helper

    g = _Builder()
    steps, bands = STEPS, BANDS
    features = "features"  # (1, frames, mel bins, windows)
    x = g.transpose(features, (0, 3, 1, 2))
    frequency_embedding = position_embedding(w, "backbone.posEmbedBuilder", np.arange(N_MELS, dtype=np.float32))
    h = g.conv(x, w["backbone.inputConv.weight"], w["backbone.inputConv.bias"], (1, 1), (1, 1, 1, 1))
    h = g.op("Add", [h, g.const(frequency_embedding.T[None, :, None, :], "freq_embed")])
    # ConstantPad2d((2, 1, 4, 3)) then the convolution's own padding of 1: pads = [t0, f0, t1, f1].
    pads = (5, 3, 4, 2)
    time, freq = SEGMENT_FRAMES + 7, N_MELS + 3
    for index, ((name, norm), strides) in enumerate(zip(_CONV_STEPS, DOWNSAMPLE_STRIDES, strict=True)):
        h = g.conv(h, w[f"{name}.weight"], w[f"{name}.bias"], strides, pads)
        pads = (1, 1, 1, 1)
        time, freq = conv_out(time, strides[0]), conv_out(freq, strides[1])
        channels = w[f"{name}.weight"].shape[0]
        h = g.group_norm(h, channels, time, freq, w[f"{norm}.weight"], w[f"{norm}.bias"])
        if index < len(_CONV_STEPS) - 1:
            h = g.gelu(h)
    if (time, freq) != (steps, bands):
        raise ValueError(f"the front convolutions give {time}x{freq}, not transkun's {steps}x{bands}: the config changed")
    # (1, D, T, F) -> (T, F, D), one aggregation step and band in front.
    h = g.reshape(g.transpose(h, (0, 2, 3, 1)), [steps, bands, MODEL_SIZE])
    h = g.op("Pad", [h, g.const(np.array([1, 1, 0, 0, 0, 0], dtype=np.int64), "pads")], mode="constant")
    grid_embedding = position_embedding(w, "backbone.posEmbedBuilderAttnTF", np.arange(steps + 1.0), np.arange(bands + 1.0))
    target_embedding = position_embedding(w, "backbone.posEmbedBuilderAttnTE", np.arange(steps + 1.0),
                                          np.array(TARGET_PITCHES, dtype=np.float32))
    h = g.op("Add", [h, g.const(grid_embedding, "grid_embed")])
    h = g.op("Concat", [h, g.const(target_embedding, "target_embed")], axis=1)
    if len(forms) != N_LAYERS:
        raise ValueError(f"build_graph takes a form for each of the {N_LAYERS} encoder layers, not {len(forms)}")
    for index, form in enumerate(forms):
        h = _encoder_layer(g, h, w, index, last=index == N_LAYERS - 1, form=form)
    # The target tokens without the aggregation step: (steps, tracks, D) -> (tracks, steps, D).
    context = g.op("Slice", [h, g.const(np.array([1], dtype=np.int64)),
                             g.const(np.array([steps + 1], dtype=np.int64)),
                             g.const(np.array([0], dtype=np.int64))])
    g.op("Transpose", [context], output="context", perm=[1, 0, 2])

    graph = helper.make_graph(
        g.nodes, "transkun-2.0",
        [helper.make_tensor_value_info(features, TensorProto.FLOAT, [1, SEGMENT_FRAMES, N_MELS, N_WINDOWS])],
        [helper.make_tensor_value_info("context", TensorProto.FLOAT, [N_TRACKS, steps, MODEL_SIZE])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(CONTRIB_DOMAIN, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="midiscribe")
    model.ir_version = 8
    checker.check_model(model)
    return model


def layer_scope(index: int) -> str:
    """What the names of encoder layer ``index``'s weight products start with."""
    return f"layer{index}/"


def weight_products(model, layers: int | Sequence[int], parts: Sequence[str] = LAYER_PARTS) -> list[str]:
    """The names of the weight products (``linear``'s MatMuls) in ``parts`` (LAYER_PARTS) of the encoder
    layers ``layers`` (a count: the first ones)."""
    indices = range(layers) if isinstance(layers, int) else layers
    scopes = tuple(f"{layer_scope(index)}{part}/" for index in indices for part in parts)
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and node.name.startswith(scopes) and LINEAR_PREFIX in node.name]


def quantised_network(model, layers: int = INT8_LAYERS) -> bytes:
    """``model`` (``build_graph(w, INT8_FORMS)``) with the weight products of its first ``layers`` encoder layers
    in 8-bit integers: weights per output channel (signed), activations per tensor as they come (onnxruntime's
    dynamic quantisation, which fuses each into one ``DynamicQuantizeMatMul``). INT8_LAYERS says why those layers.

    Those layers are to be plain. Their inputs take one scale per tensor, from its largest value, so a
    change in the last bit upstream moves their output, and so does a scale per block of time steps (the blocked
    form's; bench/README.md has what that did). Its float32 layers may be blocked (the same to the bit) but not
    fused: with them fused the 8-bit network was about 4 % faster (1.337 against 1.397 s a segment, medians of
    12 alternating runs), but its pedal moved: sustain intervals matched per file 0.954 -> 0.942 on the parity
    set, 0.985 -> 0.974 on the reporting half (87 of 93 pooled both ways)."""
    import logging
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = weight_products(model, layers)
    if not names:
        raise ValueError("the network has no named weight products to quantise: build it with build_graph")
    with tempfile.TemporaryDirectory(prefix="midiscribe-int8-") as tmp:
        source, target = Path(tmp) / "network.onnx", Path(tmp) / "network.int8.onnx"
        source.write_bytes(model.SerializeToString())
        logging.disable(logging.WARNING)  # its advice to pre-process the graph (shape inference), which it needs not
        try:
            quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], nodes_to_quantize=names,
                             per_channel=True, weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def folded_projection(w: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """transkun's upsampling and its scorer's projection folded into one (256, 8 × 513) matrix and bias.

    transkun upsamples each track's tokens to frames with a stride-8 transposed convolution (frame
    ``8 · step + phase`` is ``token[step] @ W[phase] + b``) and projects every frame to a query, a key
    (256 each) and a singleton score. Both steps are linear, so column block ``j`` of the result maps a
    step's token straight to the query, key and singleton of frame ``8 · step + j``; the 1/sqrt(256) of
    the scaled inner product is folded into the query part. Folded in float64, stored in float32.
    """
    up_weight = w["backbone.upConv1dSkip.weight"].astype(np.float64)  # (in, out, phase)
    up_bias = w["backbone.upConv1dSkip.bias"].astype(np.float64)
    map_weight = w["scorer.map.0.weight"].astype(np.float64).T.copy()  # (256, 513)
    map_bias = w["scorer.map.0.bias"].astype(np.float64).copy()
    map_weight[:, :SCORE_SIZE] /= math.sqrt(SCORE_SIZE)
    map_bias[:SCORE_SIZE] /= math.sqrt(SCORE_SIZE)
    weight = np.concatenate([up_weight[:, :, phase] @ map_weight for phase in range(UPSAMPLE_PHASES)], axis=1)
    bias = np.tile(up_bias @ map_weight + map_bias, UPSAMPLE_PHASES)
    return weight.astype(np.float32), bias.astype(np.float32)


def build_scorer_graph(w: Mapping[str, np.ndarray]):
    """The ``onnx.ModelProto`` that turns the network's target tokens into interval-scorer inputs.

    Input ``context`` (tracks, steps, 256). Outputs, one row per (track, step) token: ``query`` and ``key``
    (tracks · steps, 8 × 256), ``singletons`` (tracks · steps, 8). Read as (tracks, 8 · steps, 256) and
    (tracks, 8 · steps), frame ``8 · step + phase`` of a track is where each of its rows puts phase
    ``phase``, so no transpose is needed. Three products rather than one 513-wide one, so that each comes
    out contiguous for the decoder's block products.
    """
    from onnx import TensorProto, checker, helper

    g = _Builder()
    weight, bias = folded_projection(w)
    columns = np.arange(weight.shape[1]).reshape(UPSAMPLE_PHASES, 2 * SCORE_SIZE + 1)
    tokens = g.reshape("context", [-1, MODEL_SIZE])
    parts = {"query": columns[:, :SCORE_SIZE], "key": columns[:, SCORE_SIZE : 2 * SCORE_SIZE],
             "singletons": columns[:, -1:]}
    outputs = []
    for name, part in parts.items():
        chosen = part.ravel()
        g.op("Gemm", [tokens, g.const(weight[:, chosen], "w"), g.const(bias[chosen], "b")], output=name)
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["rows", len(chosen)]))
    graph = helper.make_graph(
        g.nodes, "transkun-2.0-scorer",
        [helper.make_tensor_value_info("context", TensorProto.FLOAT, ["tracks", "steps", MODEL_SIZE])],
        outputs, g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="midiscribe")
    model.ir_version = 8
    checker.check_model(model)
    return model
