"""A trained (or converted) JAA-Net behind the evaluation's detector interface: all 12 BP4D AUs."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from lac_gan.common.errors import DataError
from lac_gan.common.progress import Progress
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.image_io import read_rgb
from lac_gan.evaluation.detectors import AUDetector, Detections
from lac_gan.jaanet.config import JaanetConfig
from lac_gan.jaanet.data import centre_crop
from lac_gan.jaanet.model import JaaNet, build_model, present_probability
from lac_gan.nets.restore import load_checkpointed


def load_jaanet(checkpoint: str | Path) -> tuple[JaaNet, JaanetConfig, str]:
    """(model, config, checkpoint path) from a train-detector logdir or one of its checkpoints."""
    config, objects, path = load_checkpointed(checkpoint, JaanetConfig, lambda c: {"model": build_model(c)})
    return objects["model"], config, path


class JaanetDetector(AUDetector):
    """Present probabilities of the 12 AUs for square aligned faces (centre crop, as JAA-Net tests);
    metrics threshold them at 0.5 like JAA-Net. It never fails a face. Faces of another square size
    (a 128 px LAC-GAN's output) are resized to the checkpoint's size first, as OpenFace takes any
    size: the Real and Synthesis sets go through the same resize, so their gap stays comparable."""

    name = "jaanet"

    def __init__(self, checkpoint: str | Path, batch_size: int = 16):
        self.model, self.config, self.checkpoint_path = load_jaanet(checkpoint)
        self.batch_size = batch_size
        self._resized_from: set[int] = set()
        self._predict = tf.function(
            lambda images: present_probability(self.model(centre_crop(images, self.config))["au_log_probs"]))

    @property
    def covered_aus(self) -> np.ndarray:
        return np.ones(NUM_AUS, dtype=bool)

    def _read(self, path: Path) -> np.ndarray:
        image = read_rgb(path)
        size = self.config.image_size
        height, width = image.shape[:2]
        if height != width:
            raise DataError(f"{path}: {width}x{height} image, but the JAA-Net checkpoint "
                            f"{self.checkpoint_path} takes square aligned faces ({size}x{size})")
        image = image.astype(np.float32) / 127.5 - 1.0
        if height != size:
            if height not in self._resized_from:
                logging.info("JAA-Net: resizing %dx%d faces to the checkpoint's %dx%d", width, height, size, size)
                self._resized_from.add(height)
            image = tf.image.resize(image, (size, size), method="bilinear", antialias=True).numpy()
        return image

    def predict(self, image_paths: list[Path], set_name: str) -> Detections:
        logging.info("JAA-Net (%s) on %d %s images", self.checkpoint_path, len(image_paths), set_name)
        progress = Progress(f"JAA-Net on {set_name}", len(image_paths))
        probabilities = []
        for start in range(0, len(image_paths), self.batch_size):
            batch = np.stack([self._read(p) for p in image_paths[start:start + self.batch_size]])
            probabilities.append(self._predict(tf.constant(batch)).numpy())
            progress.update(len(batch))
        occurrence = np.concatenate(probabilities) if probabilities else np.zeros((0, NUM_AUS))
        return Detections(occurrence.astype(np.float64), np.zeros(len(image_paths), dtype=bool), self.covered_aus,
                          f"JAA-Net checkpoint {self.checkpoint_path}")
