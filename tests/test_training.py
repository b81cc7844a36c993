"""Short real-data training runs at the tiny preset: learning, summaries, resume, non-finite stop."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from builders import write_face_records
from lac_gan.common.errors import UsageError
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.data.dataset import fold_files, make_dataset
from lac_gan.nets import config as config_lib, vggface
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.training import losses
from lac_gan.training.loop import NonFiniteLossError, TrainingOptions, run_training
from lac_gan.training.step import FusedAdam, LacGanTrainer

def write_random_vggface(path: Path) -> Path:
    rng = np.random.default_rng(1)
    weights = {name: [rng.normal(0, np.sqrt(1 / np.prod(k[:3])), k).astype(np.float32), np.zeros(b, np.float32)]
               for name, (k, b) in vggface.conv_layer_shapes().items()}
    vggface.write_weights(path, weights)
    return path


@pytest.fixture(scope="module")
def face_data(tmp_path_factory, astronaut):
    return write_face_records(tmp_path_factory.mktemp("faces"), astronaut, config_lib.tiny().image_size)


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    return write_random_vggface(tmp_path_factory.mktemp("vgg") / vggface.WEIGHTS_FILE_NAME)


def options(data_dir, logdir, **changes) -> TrainingOptions:
    values = dict(data_dir=str(data_dir), logdir=str(logdir), steps=4, seed=3, log_every=1,
                  image_every=2, checkpoint_every=2)
    values.update(changes)
    return TrainingOptions(**values)


@pytest.fixture(scope="module")
def default_run(face_data, tmp_path_factory) -> tuple[Path, list[dict[str, float]]]:
    """(logdir, loss history) of one 4-step run of the tiny preset with `options`' defaults, for the
    tests that compare against that run: every run_training traces the whole train step, the main
    cost of this file. Its first steps are those of any shorter default run (same seed, same data)."""
    logdir = tmp_path_factory.mktemp("default_run")
    return logdir, run_training(config_lib.tiny(), options(face_data, logdir, steps=4))


def event_tags(logdir: Path) -> set[str]:
    tags = set()
    for path in (logdir / "train").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_reconstruction_learns_in_100_steps(face_data, tmp_path):
    """The generator's Eq. 5 path learns on real faces under the full objective (paper weights,
    every adversarial and label term on; identity off, it needs VGG-Face). With Eq. 5 as a per-pixel
    mean instead of the paper's l1 norm the label/adversarial terms dominated and this failed."""
    history = run_training(config_lib.tiny(), options(face_data, tmp_path, steps=100, log_every=50,
                                                      image_every=100, checkpoint_every=100))
    pixel = [np.mean([v for k, v in h.items() if k.startswith("loss/pixel/")]) for h in history]
    assert np.mean(pixel[-10:]) < 0.7 * np.mean(pixel[:5]), (pixel[:5], pixel[-10:])


def test_full_objective_logs_every_term(face_data, vgg_weights, tmp_path):
    history = run_training(config_lib.tiny(), options(face_data, tmp_path, steps=4,
                                                      identity_weights=str(vgg_weights)))
    tags = event_tags(tmp_path)
    assert set(history[-1]) <= tags
    for name in ("loss/pixel/AU12", "loss/adv_img", "loss/adv_z/AU1", "loss/adv_au/AU1", "loss/label/AU1",
                 "loss/identity", "loss/tv", "loss/total_g", "loss/total_d", "learning_rate",
                 "images/source", "images/edited_flipped_labels", "images/attention"):
        assert name in tags
    assert history[-1]["loss/identity"] > 0
    assert (tmp_path / "config.json").is_file() and tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-4")
    synthesizer = load_synthesizer(str(tmp_path))
    batch = next(iter(make_dataset(fold_files(face_data, 1, "test"), 32, 2, shuffle=False)))
    edited = synthesizer(batch["image"], batch["attention_maps"], tf.ones([2, NUM_AUS]))
    assert edited.shape == (2, 32, 32, 3) and np.all(np.isfinite(edited.numpy()))


def test_resume_continues_exactly(face_data, default_run, tmp_path):
    uninterrupted = default_run[1]
    first = run_training(config_lib.tiny(), options(face_data, tmp_path / "b", steps=2))
    second = run_training(config_lib.tiny(), options(face_data, tmp_path / "b", steps=4, resume=True))
    assert len(first) == 2 and len(second) == 2
    for expected, got in zip(uninterrupted, first + second):
        assert expected == got


def test_seeded_losses_are_those_before_the_layers_move(default_run):
    """The layers move (issue 26) changed no behaviour: the seeded default run gives the losses the
    code before it gave (tests/fixtures/pre_layers_losses.json, recorded at its last commit)."""
    recorded = json.loads((Path(__file__).parent / "fixtures" / "pre_layers_losses.json").read_text())["history"]
    history = default_run[1]
    assert len(history) == len(recorded) == 4
    for step, (now, before) in enumerate(zip(history, recorded), start=1):
        assert now.keys() == before.keys()
        for name in before:  # rounding across CPUs only: a changed step or draw moves them far more
            assert now[name] == pytest.approx(before[name], rel=1e-4, abs=1e-6), (step, name)


def test_existing_logdir_needs_resume(face_data, default_run):
    logdir, _ = default_run
    before = sorted(p.name for p in logdir.iterdir())
    with pytest.raises(UsageError, match="--resume"):
        run_training(config_lib.tiny(), options(face_data, logdir, steps=8))
    assert sorted(p.name for p in logdir.iterdir()) == before  # refused before touching it


def test_eval_every_0_writes_no_validation(default_run):
    """--eval_every 0, the default (the default run's): no validation.json and no val/ summary beside
    the losses it logged every step. R^i's held-out validation itself: tests/test_regressor_validation.py."""
    logdir, _ = default_run
    assert options("data", logdir).eval_every == 0
    tags = event_tags(logdir)
    assert "loss/total_g" in tags and not any(tag.startswith("val/") for tag in tags)
    assert not (logdir / "validation.json").exists()


def test_non_finite_loss_stops_naming_term_and_step(face_data, tmp_path, monkeypatch):
    real_tv = losses.total_variation_loss
    monkeypatch.setattr(losses, "total_variation_loss", lambda images: real_tv(images) * np.nan)
    with pytest.raises(NonFiniteLossError, match=r"step 1: .*loss/tv = nan"):
        run_training(config_lib.tiny(), options(face_data, tmp_path, steps=3))
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_one_device_mirrored_strategy_trains(face_data, default_run, tmp_path):
    """Same networks under MirroredStrategy (one CPU replica). The random draws differ from the
    default strategy's (tf.random.Generator gives each replica its own stream), so only the run itself
    and the reported terms are compared."""
    default = default_run[1]
    mirrored = run_training(config_lib.tiny(), options(face_data, tmp_path / "mirrored", steps=2, strategy="mirrored"))
    assert set(mirrored[-1]) == set(default[-1])
    assert all(np.isfinite(v) for v in mirrored[-1].values())


TWO_REPLICA_SCRIPT = """
import numpy as np, keras, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.nets import config as config_lib
from lac_gan.training.step import LacGanTrainer

# Each replica draws its own random targets by design; fix them so both runs see the same inputs.
LacGanTrainer._sample = lambda self, labels, known: (
    tf.ones_like(labels), tf.ones_like(known), tf.zeros([tf.shape(labels)[0], NUM_AUS, self.config.z_dim]))
rng = np.random.default_rng(0)
maps = np.zeros((4, 32, 32, NUM_AUS), np.float32)
maps[:, 8:20, 8:20, :] = 0.5
batch = {"image": rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32), "attention_maps": maps,
         "labels": rng.integers(0, 2, (4, NUM_AUS)).astype(np.int32), "known_mask": np.ones((4, NUM_AUS), bool),
         "face_landmarks": np.zeros((4, 49, 2), np.float32), "au_centres": np.zeros((4, NUM_AUS, 2, 2), np.float32)}
runs = []
for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
    keras.utils.set_random_seed(0)
    trainer = LacGanTrainer(config_lib.tiny(), strategy, seed=0)
    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat(2))
    runs.append([{k: np.asarray(v) for k, v in trainer.train_step(b).items()} for b in data])
for single, mirrored in zip(*runs):
    for name in single:
        np.testing.assert_allclose(single[name], mirrored[name], rtol=2e-4, atol=2e-5, err_msg=name)
print("two replicas match one device")
"""


def test_two_replica_mirrored_matches_one_device():
    """Global-batch loss scaling and synchronized batch norm: 2 CPU replicas (batch 2 each) take the
    same two steps as one device with batch 4. Own process: logical devices must be set up first."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", TWO_REPLICA_SCRIPT], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert "two replicas match one device" in result.stdout, result.stderr[-3000:]


def test_train_command_with_verbosity_1_shows_tensorflow_log_lines_but_no_error_of_ours(face_data, tmp_path):
    # With oneDNN on, TensorFlow logged ERROR lines caused by our graphs: a uint8 Transpose in the
    # record reader ("oneDNN supports DT_UINT8 only ...") and the global discriminator's last
    # conv -> LeakyReLU -> fc pattern ("remapper failed: ... LeakyReluGrad ..."). Its own lines stay.
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}, "TF_ENABLE_ONEDNN_OPTS": "1"}
    result = subprocess.run([sys.executable, "-m", "lac_gan", "train", "--preset", "tiny", "--data_dir", str(face_data),
                             "--logdir", str(tmp_path / "run"), "--identity_weights", "none", "--steps", "1",
                             "--verbosity=1"], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^[IWE]\d{4} .*\.cc:\d+\]", result.stderr, re.M), "--verbosity=1 hid TensorFlow's log"
    for ours in ("remapper failed", "DT_UINT8"):
        assert ours not in result.stderr, result.stderr[-3000:]


XLA_STEP_SCRIPT = """
import json, sys
from lac_gan.nets import config as config_lib
from lac_gan.training.loop import TrainingOptions, run_training
history = run_training(config_lib.tiny(), TrainingOptions(data_dir=sys.argv[1], logdir=sys.argv[2], steps=1, seed=3,
                                                           log_every=1, xla=True))
print(json.dumps(history))
"""


def test_xla_step_runs(face_data, tmp_path):
    """The train step compiled by XLA (jit_compile) runs and its losses are finite. Own process, with
    XLA's LLVM backend at -O0 (XLA_FLAGS is read once per process): LLVM's optimisation was 3/4 of
    this test's time (~210 of ~270 CPU s), and it changes neither what XLA must lower (every op of
    the step, or the compile fails) nor what the step computes."""
    root = Path(__file__).resolve().parents[1]
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()
    result = subprocess.run([sys.executable, "-c", XLA_STEP_SCRIPT, str(face_data), str(tmp_path / "run")], cwd=root,
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PYTHONPATH": str(root), "XLA_FLAGS": xla_flags})
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(history) == 1 and all(np.isfinite(v) for v in history[-1].values()), history


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs(face_data, tmp_path, precision):
    try:
        history = run_training(config_lib.tiny(), options(face_data, tmp_path, steps=2, precision=precision))
    finally:
        keras.config.set_dtype_policy("float32")
    assert all(np.isfinite(v) for v in history[-1].values())


def test_regressor_data_choices_train_r_on_real_generated_or_both(face_data, default_run, tmp_path):
    """Step 1 sees the same batch and draws under one seed, so R's loss (Eq. 8) on both kinds of ROI
    is the sum of its loss on real ROIs and on generated ones, AU by AU."""
    assert config_lib.tiny().regressor_data == "real"  # the default run is the "real" one
    first_step = {"real": default_run[1][0]}
    for choice in ("generated", "both"):
        config = config_lib.tiny().replace(regressor_data=choice)
        first_step[choice] = run_training(config, options(face_data, tmp_path / choice, steps=1))[0]
    for au in ("AU1", "AU12", "AU24"):
        real, generated, both = (first_step[c][f"loss/d_label/{au}"] for c in ("real", "generated", "both"))
        assert generated != pytest.approx(real)
        assert both == pytest.approx(real + generated, rel=1e-4)


def test_pixel_loss_as_roi_mean_trains(face_data, default_run, tmp_path):
    config = config_lib.tiny().replace(pixel_loss_reduction="roi_mean")
    history = run_training(config, options(face_data, tmp_path, steps=2))
    assert config_lib.tiny().pixel_loss_reduction == "sum"  # the default run sums
    summed = default_run[1][0]
    assert all(np.isfinite(v) for v in history[-1].values())
    # The l1 norm over a region is its per-pixel mean times 3 * sum(A_i): far larger.
    assert summed["loss/pixel/AU12"] > 10 * history[0]["loss/pixel/AU12"]


def test_targets_are_other_examples_labels():
    """Targets follow the data: each example's targets are one batch example's known labels, and a
    donor's unknown AU keeps the example's own label, masked out of the label term."""
    trainer = LacGanTrainer(config_lib.tiny(), tf.distribute.get_strategy(), seed=3)
    labels = tf.constant(np.random.default_rng(0).integers(0, 2, (8, NUM_AUS)), tf.int32)
    known = tf.constant(np.random.default_rng(1).random((8, NUM_AUS)) > 0.2)
    targets, target_known, _ = trainer._sample(labels, known)
    labels, known, targets, target_known = (np.asarray(t) for t in (labels, known, targets, target_known))
    donors = [[d for d in range(8) if np.array_equal(known[d], target_known[b])
               and np.array_equal(labels[d][known[d]], targets[b][known[d]])] for b in range(8)]
    assert all(donors), "every row of targets is some example's known labels"
    own = np.where(known, labels, 0)
    np.testing.assert_array_equal(targets[~target_known], own[~target_known])


def test_fused_adam_is_kerass_adam(tmp_path):
    """The same updates as keras.optimizers.Adam (the paper's β1 0.5) from the same state, and
    checkpoints that load across the two: the slot variables are Keras's own."""
    def model_and_optimizer(optimizer_class):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(3)])
        return model, optimizer_class(2e-2, beta_1=0.5, beta_2=0.999)

    rng = np.random.default_rng(0)
    gradients = [[tf.constant(rng.normal(size=v.shape), tf.float32) for v in model_and_optimizer(FusedAdam)[0].weights]
                 for _ in range(4)]
    trained = {}
    for optimizer_class in (keras.optimizers.Adam, FusedAdam):
        model, optimizer = model_and_optimizer(optimizer_class)
        step = tf.function(lambda g, model=model, optimizer=optimizer: optimizer.apply_gradients(zip(g, model.weights)))
        for g in gradients[:2]:
            step(g)
        tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp_path / optimizer_class.__name__))
        for g in gradients[2:]:
            step(g)
        trained[optimizer_class] = [v.numpy() for v in model.weights]
    for ours, theirs in zip(trained[FusedAdam], trained[keras.optimizers.Adam]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(trained[FusedAdam][0], model_and_optimizer(FusedAdam)[0].weights[0].numpy())

    # Keras Adam's checkpoint after 2 steps, resumed by FusedAdam for the last 2: the same weights.
    model, optimizer = model_and_optimizer(FusedAdam)
    optimizer.build(model.weights)
    tf.train.Checkpoint(model=model, optimizer=optimizer).read(str(tmp_path / "Adam")).assert_consumed()
    for g in gradients[2:]:
        optimizer.apply_gradients(zip(g, model.weights))
    for ours, theirs in zip([v.numpy() for v in model.weights], trained[keras.optimizers.Adam]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
