"""Restoring nets from checkpoints (lac_gan/nets/restore.py) written before the layers move (issue 26):
tests/fixtures/pre_layers_checkpoint was made by the code of that time (its made_by.py.txt) with a
2-step seeded run of a minimal-width tiny model. The moved code restores every object of it, and the
restored generator edits as it did then."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.restore import checkpoint_step, load_checkpointed, resolve_checkpoint
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.training.step import LacGanTrainer

FIXTURE = Path(__file__).parent / "fixtures" / "pre_layers_checkpoint"


@pytest.fixture
def old_logdir(tmp_path) -> Path:
    """A copy of the fixture, so nothing the code writes can change it."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def test_a_trainer_checkpoint_from_before_the_move_restores_every_object(old_logdir):
    path = resolve_checkpoint(old_logdir)
    assert checkpoint_step(path) == 2
    config = LacGanConfig.load(old_logdir)
    trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0)
    trainer.checkpoint.restore(path).assert_consumed()
    assert int(trainer.step.numpy()) == 2
    assert int(trainer.generator_optimizer.iterations.numpy()) == 2


def test_its_generator_edits_as_before(old_logdir):
    expected = json.loads((FIXTURE / "expected.json").read_text())
    synthesizer = load_synthesizer(str(old_logdir))
    s = synthesizer.config.image_size
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, s, s, 3)).astype(np.float32)
    maps = np.repeat(attention.canonical_attention_maps(s)[None], 2, 0).astype(np.float32)
    labels = np.array([[1, 0] * 6, [0, 1] * 6], np.float32)
    edited = synthesizer(images, maps, labels).numpy().astype(np.float64)
    assert edited.sum() == pytest.approx(expected["edited_sum"], rel=1e-4)
    assert np.abs(edited).sum() == pytest.approx(expected["edited_abs_sum"], rel=1e-5)


def test_load_checkpointed_names_its_objects(old_logdir):
    config, objects, path = load_checkpointed(old_logdir, LacGanConfig, lambda c: {})
    assert config.z_dim == 2 and objects == {} and path.endswith("ckpt-2")
