"""The per-AU layers compute the same function, forward and both gradients, on every path: the
grouped and the split formulation, eagerly and under XLA, in float32 / bfloat16 / float16, with
oneDNN off (this process, under the README's test command) and on (a subprocess).

A path the backend cannot run eagerly (grouped gradients without oneDNN, or in float16) is still
checked under XLA, which has its own grouped kernels, so no path is left to the luck of the CPU.
"""
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets import per_au_layers
from lac_gan.nets.per_au_layers import PerAUConv2D, PerAUDense, use_formulation

LAYERS = {
    "conv": lambda: PerAUConv2D(3, 4, 5, name="conv"),
    "transposed_conv": lambda: PerAUConv2D(4, 3, 5, transpose=True, name="deconv"),
    "dense": lambda: PerAUDense(6, 5, name="dense"),
}
INPUT_SHAPES = {"conv": [2, 9, 9, NUM_AUS * 3], "transposed_conv": [2, 5, 5, NUM_AUS * 4], "dense": [2, NUM_AUS, 6]}
OUTPUT_SHAPES = {"conv": [2, 5, 5, NUM_AUS * 4], "transposed_conv": [2, 10, 10, NUM_AUS * 3], "dense": [2, NUM_AUS, 5]}
TOLERANCE = {"float32": 2e-4, "bfloat16": 0.08, "float16": 0.02}  # relative to the output's scale


def _forward_and_gradients(layer, x, upstream, jit: bool):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * upstream)
        grad_x, grad_kernel, grad_bias = tape.gradient(loss, [x, layer.kernel, layer.bias])
        return y, grad_x, grad_kernel, grad_bias
    run = tf.function(run, jit_compile=True) if jit else run
    return [np.asarray(tf.cast(t, tf.float32)) for t in run(x)]


def _results(kind: str, formulation: str, dtype: str, jit: bool):
    """Build the layer with seeded weights under `formulation`, return forward and gradients."""
    keras.utils.set_random_seed(3)
    with use_formulation(formulation):
        layer = LAYERS[kind]()
        layer.build(INPUT_SHAPES[kind])
        layer.dtype_policy = keras.DTypePolicy(f"mixed_{dtype}" if dtype != "float32" else "float32")
        rng = np.random.default_rng(4)
        x = tf.constant(rng.uniform(-1, 1, INPUT_SHAPES[kind]), dtype)
        upstream = tf.constant(rng.uniform(-1, 1, OUTPUT_SHAPES[kind]), tf.float32)
        return _forward_and_gradients(layer, x, upstream, jit)


def _assert_close(actual, expected, dtype: str, what: str):
    for name, a, e in zip(("output", "input gradient", "kernel gradient", "bias gradient"), actual, expected):
        scale = max(1e-6, float(np.abs(e).max()))
        error = float(np.abs(a - e).max()) / scale
        assert error <= TOLERANCE[dtype], f"{what}: {name} differs by {error:.2e} of its scale"


def _grouped_runs_eagerly(dtype: str) -> bool:
    return per_au_layers.grouped_convolution_gradients(tf.as_dtype(dtype))


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_paths_agree(kind, dtype):
    """Every path against the split formulation run eagerly in float32 (12 plain ops: the paper's
    12 sub-models taken literally)."""
    expected = _results(kind, "split", "float32", jit=False)
    paths = [("split", False), ("split", True), ("grouped", True)]
    if _grouped_runs_eagerly(dtype):
        paths.append(("grouped", False))
    for formulation, jit in paths:
        if dtype == "float16" and jit:
            continue  # XLA:CPU float16 convolutions are emulated and checked in float32 and bf16 already
        actual = _results(kind, formulation, dtype, jit)
        _assert_close(actual, expected, dtype, f"{kind} {formulation} {dtype} xla={jit}")


def test_split_is_what_each_au_computes_alone():
    """AU 5's output slice is AU 5's own convolution of AU 5's input slice, nothing else."""
    keras.utils.set_random_seed(5)
    with use_formulation("grouped"):
        layer = PerAUConv2D(2, 3, 5, name="conv")
        x = tf.random.uniform([1, 8, 8, NUM_AUS * 2], seed=2)
        y = tf.function(layer, jit_compile=True)(x).numpy()
    i = 5
    expected = tf.nn.conv2d(x[..., 2 * i:2 * i + 2], layer.kernel[i], 2, "SAME") + layer.bias[i]
    np.testing.assert_allclose(y[..., 3 * i:3 * i + 3], expected, atol=1e-5)


def test_checkpoint_moves_between_formulations(tmp_path):
    """The variables are the same: weights saved from a grouped-path layer load into a split one."""
    keras.utils.set_random_seed(6)
    with use_formulation("grouped"):
        saved = PerAUConv2D(3, 4, 5, name="conv")
        saved.build(INPUT_SHAPES["conv"])
    path = tf.train.Checkpoint(layer=saved).save(str(tmp_path / "ckpt"))
    keras.utils.set_random_seed(7)
    with use_formulation("split"):
        loaded = PerAUConv2D(3, 4, 5, name="conv")
        loaded.build(INPUT_SHAPES["conv"])
        tf.train.Checkpoint(layer=loaded).restore(path).assert_consumed()
        x = tf.random.uniform(INPUT_SHAPES["conv"], seed=1)
        y_loaded = loaded(x).numpy()
    y_saved = tf.function(saved, jit_compile=True)(x).numpy()
    np.testing.assert_allclose(y_loaded, y_saved, atol=1e-5)


def test_automatic_choice_follows_the_backend():
    """The probe, also as `formulation` runs it (under tf.init_scope, inside a trace, tapes paused)."""
    traced = tf.function(lambda: tf.constant(per_au_layers.formulation(tf.bfloat16) == "grouped"))
    assert bool(traced()) == _grouped_runs_eagerly("bfloat16")
    chosen = per_au_layers.formulation(tf.float32)
    assert chosen == ("grouped" if _grouped_runs_eagerly("float32") else "split")
    assert per_au_layers.formulation(tf.float16) in per_au_layers.FORMULATIONS
    with pytest.raises(ValueError, match="unknown per-AU formulation"):
        with use_formulation("fast"):
            pass


ONEDNN_PROBE = ("import tensorflow as tf; from lac_gan.nets.per_au_layers import grouped_convolution_gradients; "
                "print('grouped kernels:', grouped_convolution_gradients(tf.float32))")


def test_paths_agree_with_onednn_on():
    """The same equality tests in a process with oneDNN on, where its grouped kernels run eagerly."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1":
        pytest.skip("this process already has oneDNN on")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    # The probe's answer is its last stdout line; a probe that crashes (an import that moved, a bug)
    # is this test's failure, not a skip: only "False" means what the skip says.
    probe = subprocess.run([sys.executable, "-c", ONEDNN_PROBE], env=env, capture_output=True, text=True, timeout=300,
                           cwd=Path(__file__).parents[1])
    answer = (probe.stdout.strip().splitlines() or [""])[-1]
    assert probe.returncode == 0 and answer in ("grouped kernels: True", "grouped kernels: False"), (
        f"the oneDNN probe failed (exit {probe.returncode}): {probe.stdout[-500:]}{probe.stderr[-3000:]}")
    if answer == "grouped kernels: False":
        pytest.skip("oneDNN's grouped kernels do not run on this CPU "
                    "(per_au_layers.grouped_convolution_gradients(float32) is False with TF_ENABLE_ONEDNN_OPTS=1)")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                             "-k", "(paths_agree or automatic_choice) and not onednn"], env=env, capture_output=True, text=True,
                            timeout=600, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
