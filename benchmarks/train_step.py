"""Train-step throughput of LAC-GAN on this machine, against a dense-matmul "physical limit".

    python benchmarks/train_step.py --presets tiny,paper --batch_sizes 4 --paper_batch_sizes 2 \
        --formulations auto,grouped,split [--xla] [--precision bf16] [--seconds 15 --repeats 3]

Prints the machine first: CPU model and its avx512f / avx2 flags (/proc/cpuinfo), TF_ENABLE_ONEDNN_OPTS
as set, whether TensorFlow's oneDNN is in effect (`_pywrap_util_port.IsMklEnabled()`), and whether
this backend runs a grouped convolution's gradients eagerly (the probe `per_au_layers` uses to pick
its path). Then, for each preset, batch size and per-AU formulation ("auto" = what the code picks by
itself; "grouped" / "split" forced with `per_au_layers.use_formulation`):

- the per-AU path that ran; a forced "grouped" the backend cannot run (no grouped-convolution
  gradients, without --xla) is reported as unavailable instead of being run;
- seconds per step of the full train step (forward, both gradients, both Adam updates, identity
  loss on with random VGG-Face weights), `--repeats` windows of `--seconds` each;
- FLOPs per example that execute: the nodes of the partition graph TensorFlow's function runtime
  runs for the step (RunMetadata.function_graphs, i.e. after Grappler pruned every node no output
  needs), FLOPs per node from the traced graph's static shapes. Convolutions (incl. transposed
  and both gradients), MatMul, BatchMatMul and Einsum are counted exactly (2 x output positions x
  kernel area x input depth per group x output depth; a fused conv/matmul node counts as its conv or
  matmul); every other op with a FLOP count registered in TensorFlow (elementwise, reductions, Adam)
  as TensorFlow registers it. Also printed: the same count over every traced node (what
  tf.compat.v1.profiler reported before; it includes gradient nodes that never run, e.g. the
  weight gradients of the discriminators under the generator's tape), and an analytical count of the
  convolutions / matmuls (forward, plus one forward-sized product per gradient that some tape needs);
  under --xla only the analytical count is available and used;
- the achieved FLOP/s as a percentage of a float32 tf.matmul (--matmul_size^2) measured in the same
  process right before and right after each timing window (their mean), min / median / max over
  the windows.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # the FLOP registry's v1 shape helper logs a deprecation per node
from absl import app, flags  # noqa: E402
from tensorflow.python.eager import context  # noqa: E402
from tensorflow.python.framework import ops as framework_ops  # noqa: E402
from tensorflow.python.profiler.internal import flops_registry  # noqa: E402,F401 - registers the FLOP counts

from benchmarks.machine import cpu_description, onednn_description  # noqa: E402
from benchmarks.step_inputs import random_vggface, synthetic_batch  # noqa: E402
from lac_gan.data.au_table import NUM_AUS  # noqa: E402
from lac_gan.nets import config as config_lib, per_au_layers, vggface  # noqa: E402
from lac_gan.nets.cargs import encoded_side  # noqa: E402
from lac_gan.training.step import PRECISIONS, LacGanTrainer  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["tiny", "paper"], "Presets to time.")
flags.DEFINE_list("batch_sizes", ["4"], "Batch sizes for the tiny preset.")
flags.DEFINE_list("paper_batch_sizes", ["2"], "Batch sizes for the paper preset.")
flags.DEFINE_list("formulations", ["auto", "grouped", "split"],
                  "Per-AU paths to time: auto (the code's own pick), grouped, split (forced).")
flags.DEFINE_integer("warmup", 1, "Untimed steps after the first (tracing) step.")
flags.DEFINE_float("seconds", 15.0, "Length of each timing window (at least 2 steps per window).")
flags.DEFINE_integer("repeats", 3, "Timing windows per configuration (min / median / max over them).")
flags.DEFINE_bool("xla", False, "jit_compile the forward/backward pass.")
flags.DEFINE_enum("precision", "float32", ["float32", "bf16"], "bf16 = mixed_bfloat16 (float32 variables and losses).")
flags.DEFINE_bool("identity", True, "Include the VGG-Face identity loss (random weights).")
flags.DEFINE_string("config_override", "", "Fields changed in every preset, as train.py --config_override: "
                    "image_size=128 times the paper's widths at 128 px.")
flags.DEFINE_integer("matmul_size", 4096, "Side of the square matrices of the reference matmul.")
flags.DEFINE_float("matmul_seconds", 3.0, "Length of each reference-matmul measurement.")
flags.DEFINE_string("flops_detail", "", "Regex: print the executed conv/matmul nodes whose name matches, "
                    "with their FLOPs per example (for checking the count by hand).")

CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum")


# ---------------------------------------------------------------------------------- the machine -----

def compute_dtype() -> tf.DType:
    return tf.bfloat16 if FLAGS.precision == "bf16" else tf.float32


def grouped_gradients_run_eagerly(dtype: tf.DType) -> bool:
    """The probe of per_au_layers, called directly (eagerly, outside any tf.function)."""
    return per_au_layers.grouped_convolution_gradients(dtype)


# ---------------------------------------------------------------------------------- references -----

def matmul_flops_per_second(n: int, seconds: float) -> float:
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 2:
        matmul().numpy()
        count += 1
    return 2.0 * n ** 3 * count / (time.perf_counter() - start)


# ---------------------------------------------------------------------------------- FLOPs ----------

def _shape(tensor) -> list[int] | None:
    shape = tensor.shape
    return shape.as_list() if shape.is_fully_defined() else None


def dense_op_flops(op) -> float | None:
    """Exact FLOPs of a conv / matmul / einsum node (None: not such a node, or shapes unknown)."""
    if op.type in CONV_OPS:
        # 2 x (positions of the conv's output = Conv2D's output, or the gradients' out_backprop) x
        # kernel area x the filter's input depth (per group) x output depth.
        conv_output = _shape(op.outputs[0] if op.type == "Conv2D" else op.inputs[2])
        kernel = _shape(op.outputs[0] if op.type == "Conv2DBackpropFilter" else op.inputs[1])
        if conv_output is None or kernel is None:
            return None
        return 2.0 * math.prod(conv_output) * kernel[0] * kernel[1] * kernel[2]
    if op.type == "MatMul":
        a, out = _shape(op.inputs[0]), _shape(op.outputs[0])
        if a is None or out is None:
            return None
        return 2.0 * math.prod(out) * (a[0] if op.get_attr("transpose_a") else a[1])
    if op.type.startswith("BatchMatMul"):
        a, out = _shape(op.inputs[0]), _shape(op.outputs[0])
        if a is None or out is None:
            return None
        return 2.0 * math.prod(out) * (a[-2] if op.get_attr("adj_x") else a[-1])
    if op.type == "Einsum":
        equation = op.get_attr("equation").decode()
        sizes = {}
        for letters, tensor in zip(equation.split("->")[0].split(","), op.inputs):
            shape = _shape(tensor)
            if shape is None or "." in letters:
                return None
            sizes.update(zip(letters, shape))
        return 2.0 * math.prod(sizes.values())
    return None


def registered_flops(graph, op) -> float:
    try:
        value = framework_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
    except (ValueError, TypeError):
        return 0.0
    return float(value or 0.0)


def graph_flops(graph, names=None, fused=frozenset()) -> dict:
    """{"dense": conv/matmul FLOPs, "other": other registered FLOPs, "unknown": dense nodes without
    static shapes} over `names` (executed node names) or over every traced node (names=None)."""
    by_name = {op.name: op for op in graph.get_operations()}
    dense_ops: dict[str, float] = {}
    other, unknown = 0.0, 0
    for name in (by_name if names is None else names):
        op = by_name.get(name)
        if op is None:
            continue
        if op.type in CONV_OPS + MATMUL_OPS:
            value = dense_op_flops(op)
            unknown += value is None
            dense_ops[name] = value or 0.0
            continue
        other += registered_flops(graph, op)
        if name in fused:  # a fused conv/matmul node carries the name of its last fused op
            source = op
            for _ in range(4):
                if not source.inputs:
                    break
                source = source.inputs[0].op
                if source.type in CONV_OPS + MATMUL_OPS:
                    value = dense_op_flops(source)
                    unknown += value is None
                    dense_ops[source.name] = value or 0.0
                    break
    return {"dense": sum(dense_ops.values()), "other": other, "unknown": unknown, "dense_ops": dense_ops}


def executed_node_names(run_metadata) -> tuple[set[str], set[str]]:
    """Names of the nodes of the step's partition graph(s) (the largest function run), and of those
    that are fused conv/matmul kernels."""
    graphs = max(run_metadata.function_graphs, key=lambda f: sum(len(p.node) for p in f.partition_graphs))
    names, fused = set(), set()
    for partition in graphs.partition_graphs:
        for node in partition.node:
            names.add(node.name)
            if "Fused" in node.op and ("Conv" in node.op or "MatMul" in node.op):
                fused.add(node.name)
    return names, fused


def analytical_flops(config: config_lib.LacGanConfig, identity: bool) -> dict[str, float]:
    """Per example: conv + matmul FLOPs of the forward pass and of every gradient a tape needs.

    Each layer: f = 2 x output positions x kernel area x input depth x output depth (x 12 per-AU
    layers; a transposed conv's "output positions" are its input's), per evaluation on one example.
    A gradient w.r.t. a layer's input or its weights costs one more f. Which gradients run:
    generator tape (encoder + decoder weights): both gradients of every decoder layer (both passes);
    the encoder's weight gradients and the input gradients of its layers 2.. (its input is data);
    input gradients only through D^i/R^i (whole real+generated batch), D_z on z, D_img on the
    composed image and VGG on the composed image. Discriminator tape: weight gradients of every D
    layer on every call, input gradients of layers 2.. (their first input does not depend on D).
    """
    a, k, s = NUM_AUS, config.kernel_size, config.image_size
    rows = {}

    def add(network, forward, calls, g_input, d_input, filters):
        rows[network] = rows.get(network, 0.0) + forward * (calls + g_input + d_input + filters)

    def convs(side, channels, kernel, groups):
        """[(f, side_out)] of stride-2 'SAME' convs."""
        out = []
        for c_in, c_out in zip(channels, channels[1:]):
            side = math.ceil(side / 2)
            out.append(2.0 * side * side * kernel * kernel * c_in * c_out * groups)
        return out, side

    # Encoder: 1 call; g: weights of all, inputs of 2..
    enc, side = convs(s, (3,) + config.encoder_channels, k, a)
    enc.append(2.0 * side * side * config.encoder_channels[-1] * config.z_dim * a)  # FC -> z
    for j, f in enumerate(enc):
        add("encoder", f, 1, 1 if j else 0, 0, 1)
    # Decoder: 2 passes (reconstruction, edit); g: both gradients of every layer, both passes.
    side = encoded_side(s)
    dec = [2.0 * 2 * config.z_dim * side * side * config.decoder_channels[0] * a]
    channels = config.decoder_channels + (3,)
    for c_in, c_out in zip(channels, channels[1:]):
        dec.append(2.0 * side * side * k * k * c_in * c_out * a)  # transposed: input positions
        side *= 2
    for f in dec:
        add("decoder (2 passes)", f, 2, 2, 0, 2)
    # D^i / R^i on the concatenated real + generated ROIs (2 evaluations per example).
    loc, side = convs(s, (3,) + config.local_disc_channels, k, a)
    features = side * side * config.local_disc_channels[-1]
    heads = [2.0 * (features + 2 * config.label_tile) * a, 2.0 * features * 2 * a]
    for j, f in enumerate(loc):
        add("local D^i/R^i", f, 2, 2, 2 if j else 0, 2)
    for f in heads:
        add("local D^i/R^i", f, 2, 2, 2, 2)
    # D_z: on z (g input gradients) and on the prior; FC layers.
    units = (config.z_dim,) + tuple(config.latent_disc_units) + (1,)
    for j, (u_in, u_out) in enumerate(zip(units, units[1:])):
        add("latent D_z", 2.0 * u_in * u_out * a, 2, 1, 2 if j else 0, 2)
    # D_img: on the real and the composed image; g: input gradients on the composed one.
    glob, side = convs(s, (3,) + config.global_disc_channels, k, 1)
    glob.append(2.0 * side * side * config.global_disc_channels[-1])
    for j, f in enumerate(glob):
        add("global D_img", f, 2, 1, 2 if j else 0, 2)
    # VGG16 up to the deepest identity layer, on the real (no gradient) and the composed image (g input).
    if identity:
        wanted = list(vggface.conv_layer_shapes())
        last = max(wanted.index(name) for name in config.identity_layers)
        side, c_in, index = s, 3, 0
        for block, count, c_out in vggface.VGG16_BLOCKS:
            for _ in range(count):
                if index <= last:
                    add("VGG-Face (identity)", 2.0 * side * side * 9 * c_in * c_out, 2, 1, 0, 0)
                c_in, index = c_out, index + 1
            side //= 2
    rows["total"] = sum(rows.values())
    return rows


# ---------------------------------------------------------------------------------- timing ---------

def timed_window(trainer: LacGanTrainer, batch: dict, seconds: float) -> list[float]:
    durations, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(durations) < 2:
        t0 = time.perf_counter()
        trainer.train_step(batch)["total_g"].numpy()
        durations.append(time.perf_counter() - t0)
    return durations


def benchmark(preset: str, batch_size: int, requested: str, directory: str) -> dict:
    config = config_lib.preset(preset).with_overrides(FLAGS.config_override).replace(batch_size=batch_size)
    dtype = compute_dtype()
    label = f"{preset} ({FLAGS.config_override})" if FLAGS.config_override else preset
    row = {"preset": label, "batch": batch_size, "requested": requested, "path": "", "status": "ran", "note": ""}
    if requested == "auto":
        path, forced = per_au_layers.formulation(dtype), None
    else:
        path, forced = requested, requested
    row["path"] = path
    if path == "grouped" and not FLAGS.xla and not grouped_gradients_run_eagerly(dtype):
        row["status"] = ("unavailable: this backend has no grouped-convolution gradients "
                         f"({dtype.name}, {onednn_description()}); runs only with --xla")
        print(f"{preset:6s} batch {batch_size:2d} {requested:7s}: {row['status']}", flush=True)
        return row
    scope = per_au_layers.use_formulation(forced) if forced else contextlib.nullcontext()
    # Building the models runs every layer once eagerly (outside XLA): where the backend cannot run
    # grouped convolutions eagerly (only reachable with --xla), build with the split path (the same
    # variables) and trace the XLA step with the grouped one.
    eager_safe = path != "grouped" or grouped_gradients_run_eagerly(dtype)
    build_scope = scope if eager_safe else per_au_layers.use_formulation("split")
    if not eager_safe:
        row["note"] = "; ".join(filter(None, [row["note"], "models built eagerly with the split path "
                                              "(same variables), step traced with grouped under XLA"]))
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(PRECISIONS[FLAGS.precision])
    identity = random_vggface(config.image_size, directory) if FLAGS.identity else None
    batch = synthetic_batch(config.image_size, batch_size)
    ctx = context.context()
    try:
        with build_scope:
            trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0, identity_features=identity,
                                    precision=FLAGS.precision, xla=FLAGS.xla)
        with scope:
            # First (tracing) step with the executed graphs collected.
            ctx.enable_run_metadata()
            ctx.enable_graph_collection()
            try:
                trainer.train_step(batch)["total_g"].numpy()
                run_metadata = ctx.export_run_metadata()
            finally:
                ctx.disable_graph_collection()
                ctx.disable_run_metadata()
            graph = trainer.train_step.get_concrete_function(batch).graph
        for _ in range(FLAGS.warmup):
            trainer.train_step(batch)["total_g"].numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError) as error:
        row["status"] = f"unavailable: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        print(f"{preset:6s} batch {batch_size:2d} {requested:7s}: {row['status']}", flush=True)
        return row
    if requested == "auto" and not forced:
        row["path"] = per_au_layers.formulation(dtype)

    analytical = analytical_flops(config, FLAGS.identity)
    row["analytical"] = analytical["total"]  # per example
    if FLAGS.xla:  # the forward/backward pass sits in a nested jit-compiled function
        row["traced"] = None
    else:
        traced = graph_flops(graph)
        row["traced"] = (traced["dense"] + traced["other"]) / batch_size
    if FLAGS.xla:
        row["executed"] = row["executed_dense"] = None
        flops, row["flop_source"] = analytical["total"], "analytical (XLA: no executed graph)"
        row["unknown_shapes"] = 0
    else:
        names, fused = executed_node_names(run_metadata)
        executed = graph_flops(graph, names, fused)
        row["executed_dense"] = executed["dense"] / batch_size
        row["executed"] = (executed["dense"] + executed["other"]) / batch_size
        row["unknown_shapes"] = executed["unknown"]
        flops, row["flop_source"] = row["executed"], "executed nodes"
        if FLAGS.flops_detail:
            pattern = re.compile(FLAGS.flops_detail)
            for network, value in analytical.items():
                print(f"    analytical {network}: {value / 1e9:.4f} GFLOP/example", flush=True)
            for name, value in sorted(executed["dense_ops"].items()):
                if pattern.search(name):
                    print(f"    executed {graph.get_operation_by_name(name).type:22s} {name}: "
                          f"{value / batch_size / 1e9:.4f} GFLOP/example", flush=True)
    row["flops"] = flops

    # The machine may be shared: a reference matmul right before and after every window.
    references = [matmul_flops_per_second(FLAGS.matmul_size, FLAGS.matmul_seconds)]
    windows = []
    for _ in range(FLAGS.repeats):
        windows.append(timed_window(trainer, batch, FLAGS.seconds))
        references.append(matmul_flops_per_second(FLAGS.matmul_size, FLAGS.matmul_seconds))
    step_seconds = [float(np.median(w)) for w in windows]
    percents = [100 * flops * batch_size / seconds / ((before + after) / 2)
                for seconds, before, after in zip(step_seconds, references, references[1:])]
    all_steps = [d for w in windows for d in w]
    row.update(ms=1000 * float(np.median(all_steps)), steps=len(all_steps),
               examples_per_s=batch_size / float(np.median(all_steps)),
               gflops_per_s=flops * batch_size / float(np.median(all_steps)) / 1e9,
               percent=(min(percents), float(np.median(percents)), max(percents)),
               matmul=(min(references) / 1e9, max(references) / 1e9))
    print(f"{preset:6s} batch {batch_size:2d} {requested:7s} path={row['path']:7s} xla={FLAGS.xla!s:5s} "
          f"{FLAGS.precision}: {row['ms']:8.1f} ms/step (median of {row['steps']}), "
          f"{row['examples_per_s']:7.2f} examples/s; GFLOP/example executed "
          f"{_g(row['executed'])} (conv+matmul {_g(row['executed_dense'])}), analytical conv+matmul "
          f"{_g(row['analytical'])}, traced {_g(row['traced'])}; {row['gflops_per_s']:6.1f} GFLOP/s = "
          f"{row['percent'][1]:5.1f}% [{row['percent'][0]:.1f}, {row['percent'][2]:.1f}] of float32 matmul "
          f"({row['matmul'][0]:.0f}-{row['matmul'][1]:.0f} GFLOP/s)"
          + (f"; {row['unknown_shapes']} conv/matmul nodes without static shapes (not counted)"
             if row["unknown_shapes"] else "")
          + (f"  NOTE: {row['note']}" if row["note"] else ""), flush=True)
    return row


def _g(value) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1e9:.3f}" if value < 1e10 else f"{value / 1e9:.1f}"


def markdown(rows: list[dict]) -> str:
    lines = ["| preset | batch | asked | path that ran | ms / step | examples/s | GFLOP/example executed "
             "(conv+matmul) | analytical conv+matmul | traced graph | GFLOP/s | % of matmul median [min, max] "
             "| matmul GFLOP/s |", "|" + "---|" * 12]
    for r in rows:
        if r["status"] != "ran":
            lines.append(f"| {r['preset']} | {r['batch']} | {r['requested']} | {r['path']}: {r['status']} |"
                         + " — |" * 8)
            continue
        lines.append(
            f"| {r['preset']} | {r['batch']} | {r['requested']} | {r['path']} | {r['ms']:.0f} | "
            f"{r['examples_per_s']:.2f} | {_g(r['executed'])} ({_g(r['executed_dense'])}) | {_g(r['analytical'])} | "
            f"{_g(r['traced'])} | {r['gflops_per_s']:.0f} | {r['percent'][1]:.1f} [{r['percent'][0]:.1f}, "
            f"{r['percent'][2]:.1f}] | {r['matmul'][0]:.0f}–{r['matmul'][1]:.0f} |")
    return "\n".join(lines)


def main(argv):
    del argv
    unknown = set(FLAGS.formulations) - {"auto", *per_au_layers.FORMULATIONS}
    if unknown:
        raise app.UsageError(f"--formulations: unknown {sorted(unknown)}; choose from auto, grouped, split")
    dtype = compute_dtype()
    print(f"{os.cpu_count()} CPUs, CPU {cpu_description()}, TF {tf.__version__}", flush=True)
    print(f"{onednn_description()}; grouped-conv gradients run eagerly ({dtype.name}): "
          f"{'yes' if grouped_gradients_run_eagerly(dtype) else 'no'}; "
          f"GPUs: {len(tf.config.list_logical_devices('GPU'))}", flush=True)
    auto = per_au_layers.formulation(dtype)
    print(f"per-AU path picked automatically ({dtype.name}): {auto}",
          flush=True)
    print(f"reference: float32 matmul {FLAGS.matmul_size}^2, {FLAGS.matmul_seconds:g} s before and after each "
          f"of {FLAGS.repeats} windows of {FLAGS.seconds:g} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for preset in FLAGS.presets:
            sizes = FLAGS.paper_batch_sizes if preset == "paper" else FLAGS.batch_sizes
            for batch_size in sizes:
                for requested in FLAGS.formulations:
                    rows.append(benchmark(preset, int(batch_size), requested, directory))
    print(f"load average at the end {os.getloadavg()[0]:.2f}\n")
    print(markdown(rows), flush=True)


if __name__ == "__main__":
    app.run(main)
