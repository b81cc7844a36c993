"""The synthesis contract: load_synthesizer(logdir or checkpoint) -> Synthesizer(images, maps, labels)."""
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets import config as config_lib
from lac_gan.nets.cargs import CARGs
from lac_gan.nets.restore import CheckpointNotFoundError, resolve_checkpoint
from lac_gan.nets.synthesis import Synthesizer, load_synthesizer


@pytest.fixture(scope="module")
def trained_logdir(tmp_path_factory):
    """A logdir as training leaves it: config.json and a checkpoint holding `generator`."""
    logdir = tmp_path_factory.mktemp("logdir")
    config = config_lib.tiny()
    config.save(logdir)
    tf.random.set_seed(4)
    generator = CARGs(config, name="cargs")
    s = config.image_size
    generator.decode(generator.encode(tf.zeros([NUM_AUS, 1, s, s, 3])), tf.zeros([1, NUM_AUS], tf.int32))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(logdir), 2, checkpoint_name="ckpt")
    manager.save(checkpoint_number=7)
    return logdir, generator


def inputs(size, batch=2):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    maps = np.zeros((batch, size, size, NUM_AUS), np.float32)
    maps[:, 8:16, 8:16, 3] = 0.7
    return images, maps, rng.integers(0, 2, (batch, NUM_AUS))


def test_load_from_logdir_and_checkpoint_path(trained_logdir):
    logdir, generator = trained_logdir
    images, maps, labels = inputs(config_lib.tiny().image_size)
    in_process = Synthesizer.from_models(config_lib.tiny(), generator)(images, maps, labels).numpy()
    for path in (logdir, logdir / "ckpt-7", f"{logdir}/ckpt-7.index"):
        synthesizer = load_synthesizer(str(path))
        assert synthesizer.config == config_lib.tiny() and synthesizer.config.image_size == 32
        out = synthesizer(images, maps, labels)
        assert out.dtype == tf.float32 and out.shape == images.shape
        np.testing.assert_array_equal(out.numpy(), in_process)
    assert np.all(np.abs(in_process) <= 1)
    outside = maps.sum(-1) == 0
    np.testing.assert_array_equal(in_process[outside], images[outside])


def test_resolve_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint in this directory"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(CheckpointNotFoundError, match="ckpt-3.index"):
        resolve_checkpoint(tmp_path / "ckpt-3")
