"""LAC-GAN training: one train step (Eq. 3-10), the loop, TensorBoard summaries and checkpoints.

`run_training(config, options)` is what `train.py` (and any later CLI) calls. One step:
  1. sample target labels l^t (Bernoulli per AU) and prior samples z ~ U(-1, 1) from the
     checkpointed tf.random.Generator;
  2. one forward pass: regions (Eq. 1), z = G_en(regions), a reconstruction pass G_de(z, l^s)
     (Eq. 5, source labels) and an editing pass G_de(z, l^t) composed into X^t (Eq. 2), and every
     discriminator on real and generated inputs;
  3. generator and discriminator gradients from that same forward pass (pix2pix style), applied
     discriminators first, then generator.
Losses are averaged over the global batch and D^i's batch norm is synchronized, so Mirrored /
MultiWorkerMirrored training takes the same steps as one device given the same random draws (each
replica draws its targets from its own stream of the generator).
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.framework import summary_pb2

from lac_gan import attention, dataset, losses, regressor_validation, vggface
from lac_gan.au_table import AU_NAMES, NUM_AUS
from lac_gan.bp4d import JAANET_FOLD_TEST_PART, fold_parts
from lac_gan.checkpoints import (CHECKPOINT_PREFIX, checkpoint_logdir, checkpoint_step, prepare_logdir,
                                  resolve_checkpoint, save_checkpoint)
from lac_gan.config import LacGanConfig
from lac_gan.errors import DataError, UsageError, UserError, check_seed
from lac_gan.json_files import write_json_atomic
from lac_gan.models import LacGanModels, read_label_code
from lac_gan.progress import Progress
from lac_gan.synthesis import composed_maps, edit_faces
from lac_gan.vggface import VggFaceFeatures

# The batch entries the step reads (the dataset also carries strings, which XLA cannot take).
MODEL_INPUTS = ("image", "attention_maps", "labels", "known_mask")
PER_AU_TERMS = ("pixel", "adv_z", "adv_au", "label", "d_z", "d_au", "d_label")
PRECISIONS = {"float32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}


@dataclasses.dataclass
class TrainingOptions:
    data_dir: str
    logdir: str
    fold: int = 1
    steps: int = 1000  # the global step to stop at (a resumed run continues up to it)
    identity_weights: str | None = None  # VGG-Face .h5, or None: identity loss off
    precision: str = "float32"  # float32 | fp16 | bf16 (mixed precision)
    xla: bool = False
    strategy: str = "default"  # default | mirrored | multi_worker
    resume: bool = False
    seed: int = 0
    log_every: int = 10
    image_every: int = 100
    checkpoint_every: int = 500
    max_checkpoints: int = 5
    skip_bad_records: bool = False  # go on without unreadable records (counted), else stop naming them
    eval_every: int = 0  # R^i on held-out people every K steps and at the last one (regressor_validation); 0: never
    eval_examples: int = 256  # how many of the fold's test frames it scores (the same ones every time)


class NonFiniteLossError(UserError):
    """Training diverged (a non-finite loss): a result to report in one line, not a bug of ours."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose default, mirrored or multi_worker")


class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable updated by one fused kernel (`ResourceApplyAdam`) instead of
    Keras's ~12 elementwise ops, each a pass over the variable: the same update and the same slot
    variables (checkpoints are interchangeable), 3x faster over the generator's 122-159 M weights
    (docs/benchmarks.md). Under a multi-replica strategy it is Keras's own update."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)

        def constant(value):
            return tf.cast(value, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_resource_handle(variable), m=_resource_handle(self._momentums[index]),
            v=_resource_handle(self._velocities[index]),
            beta1_power=tf.pow(constant(self.beta_1), step), beta2_power=tf.pow(constant(self.beta_2), step),
            lr=constant(learning_rate), beta1=constant(self.beta_1), beta2=constant(self.beta_2),
            epsilon=constant(self.epsilon), grad=tf.cast(gradient, dtype))


def _resource_handle(variable) -> tf.Tensor:
    """A Keras variable's (or the tf.Variable TF's update passes) resource handle."""
    return variable.handle if isinstance(variable, tf.Variable) else variable.value.handle


def make_optimizer(config: LacGanConfig, precision: str) -> keras.optimizers.Optimizer:
    optimizer = FusedAdam(config.learning_rate, beta_1=config.adam_beta_1, beta_2=config.adam_beta_2)
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "fp16" else optimizer


def global_mean(per_example: tf.Tensor, global_batch_size: int) -> tf.Tensor:
    """Sum over this replica's examples / global batch: summed over replicas it is the global mean."""
    return tf.reduce_sum(tf.cast(per_example, tf.float32), axis=0) / global_batch_size


def generated_regions(generated: tf.Tensor, attention_maps: tf.Tensor) -> tf.Tensor:
    """The generated AU ROI A_i x G_AU_i(...) [12, B, S, S, 3]: the part of a CARG's output that
    Eq. 2 uses, compared with the real ROI A_i x X^s (Eq. 1) by Eq. 5 and the local discriminator."""
    return attention.au_major(tf.cast(attention_maps, generated.dtype)) * generated


class LacGanTrainer:
    """All networks, both optimizers, the step counter and the RNG, plus the distributed train step."""

    def __init__(self, config: LacGanConfig, strategy: tf.distribute.Strategy, *, seed: int,
                 identity_features: VggFaceFeatures | None = None, precision: str = "float32",
                 xla: bool = False):
        self.config, self.strategy = config, strategy
        self.identity_features = identity_features
        with strategy.scope():
            self.models = LacGanModels(config)
            self.generator_optimizer = make_optimizer(config, precision)
            self.discriminator_optimizer = make_optimizer(config, precision)
            self.generator_optimizer.build(self.models.generator_variables)
            self.discriminator_optimizer.build(self.models.discriminator_variables)
            self.rng = tf.random.Generator.from_seed(seed)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(
            generator=self.models.generator, latent_discriminators=self.models.latent_discriminator,
            local_au_discriminators=self.models.local_discriminator,
            global_discriminator=self.models.global_discriminator,
            generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer, step=self.step, rng=self.rng)
        # Only XLA needs its own (jit-compiled) function; a nested tf.function would keep the
        # synchronized batch norm of D^i from all-reducing across replicas.
        self._losses_and_gradients = (tf.function(self._losses_and_gradients_impl, jit_compile=True) if xla
                                      else self._losses_and_gradients_impl)
        self.train_step = tf.function(self._train_step_impl)
        self.held_out_readings = tf.function(self._held_out_readings_impl, reduce_retracing=True)

    # ------------------------------------------------------------------ one step ---------------

    def _sample(self, labels, known):
        """Target labels l^t [B, 12] in {0, 1}, which of them are known, and latent prior samples
        [B, 12, N_z] ~ U(-1, 1).

        The targets are another example's labels (a random permutation of the batch), so that they
        follow the data's AU rates and co-occurrences: with independent Bernoulli(0.5) targets the
        label-conditioned D^i could tell fake from real by the label alone. A donor's unknown (9) AU
        gets the example's own label (or 0) and is masked out of the label term.
        """
        batch_size = tf.shape(labels)[0]
        donors = tf.argsort(self.rng.uniform([batch_size]))
        donor_labels, donor_known = tf.gather(labels, donors), tf.gather(known, donors)
        targets = tf.where(donor_known, donor_labels, tf.where(known, labels, 0))
        prior = self.rng.uniform([batch_size, NUM_AUS, self.config.z_dim], -1.0, 1.0)
        return targets, donor_known, prior

    def _identity(self, composed, images):
        if self.identity_features is None:
            return tf.zeros(tf.shape(images)[:1])
        reference = [tf.stop_gradient(f) for f in self.identity_features(images)]
        return losses.identity_loss(self.identity_features(composed), reference,
                                    self.config.identity_layer_weights)

    def _forward(self, batch, targets, target_known, prior):
        """Every network on one batch -> per-example loss terms (dict of [B] or [B, 12])."""
        m = self.models
        images, maps, known = batch["image"], batch["attention_maps"], batch["known_mask"]
        # Reconstruction needs a true label: unknown (9) AUs get the target instead, and weight 0.
        source_labels = tf.where(known, batch["labels"], targets)
        regions = attention.au_regions(images, maps)
        z = m.generator.encode(regions)
        # Reconstruction and edit share z: one decoder pass over 2B examples (no batch norm in the
        # CARGs, so the same outputs as two passes; fewer, larger kernels, docs/benchmarks.md).
        decoded = m.generator.decode(tf.concat([z, z], axis=0), tf.concat([source_labels, targets], axis=0))
        reconstructed, edited = tf.split(decoded, 2, axis=1)
        edited = tf.cast(edited, tf.float32)
        composed = attention.compose(images, edited, composed_maps(self.config, maps))
        real_au_logits, fake_au_logits, real_au_codes, fake_au_codes = self.local_judgements(
            regions, composed, maps, source_labels, targets, training=True)
        fake_z_logits = m.latent_discriminator(z)
        real_image_logits = m.global_discriminator(images)
        fake_image_logits = m.global_discriminator(composed)
        return {
            "pixel": losses.pixel_loss(generated_regions(reconstructed, maps), regions, maps, known,
                                       self.config.pixel_loss_reduction),
            "adv_z": losses.generator_adversarial_loss(fake_z_logits),
            "adv_au": losses.generator_adversarial_loss(fake_au_logits),
            "label": losses.label_regression_loss(fake_au_codes, targets, target_known),
            "adv_img": losses.generator_adversarial_loss(fake_image_logits),
            "identity": self._identity(composed, images),
            "tv": losses.total_variation_loss(composed),
            "d_z": losses.discriminator_adversarial_loss(m.latent_discriminator(prior), fake_z_logits),
            "d_au": losses.discriminator_adversarial_loss(real_au_logits, fake_au_logits, known),
            "d_label": self._regressor_loss(real_au_codes, source_labels, known, fake_au_codes, targets,
                                            target_known),
            "d_img": losses.discriminator_adversarial_loss(real_image_logits, fake_image_logits),
        }

    def local_judgements(self, regions, composed, attention_maps, source_labels, targets, training):
        """D^i and R^i on the real ROIs A_i x X^s (with the source labels) and on the composed faces
        (with the targets) -> real and fake logits [B, 12], real and fake R codes [B, 12, 2]. The
        train step's call, which the held-out validation makes too (lac_gan/regressor_validation.py)."""
        # D^i and R^i judge AU i's region of the composed face X^t, A_i x X^t: what is shown, where
        # overlapping AUs (AU12/14/15 share a region) have been averaged by Eq. 2 (paper-notes).
        composed_regions = attention.au_regions(composed, attention_maps)
        # Real and generated ROIs in one batch, so that batch norm sees both alike and the generator
        # cannot steer D^i/R^i through the statistics of an all-generated batch.
        au_logits, au_codes = self.models.local_discriminator(
            tf.concat([regions, tf.cast(composed_regions, regions.dtype)], axis=1),
            tf.concat([source_labels, targets], axis=0), training=training)
        real_logits, fake_logits = tf.split(au_logits, 2, axis=0)
        real_codes, fake_codes = tf.split(au_codes, 2, axis=0)
        return real_logits, fake_logits, real_codes, fake_codes

    def _regressor_loss(self, real_codes, source_labels, known, fake_codes, targets, target_known):
        """R^i's own loss (Eq. 8) on real ROIs with source labels, generated ROIs with targets, or both."""
        data = self.config.regressor_data
        real = losses.label_regression_loss(real_codes, source_labels, known)
        fake = losses.label_regression_loss(fake_codes, targets, target_known)
        if data == "real":
            return real
        if data == "generated":
            return fake
        return real + fake

    def _objectives(self, terms):
        """Eq. 9-10 for both players -> per-example totals ([B] each)."""
        c = self.config
        weights = dict(lambda_latent_adv=c.lambda_latent_adv, lambda_au_adv=c.lambda_au_adv,
                       lambda_au_label=c.lambda_au_label)
        outer = dict(lambda_identity=c.lambda_identity, lambda_tv=c.lambda_tv,
                     lambda_image_adv=c.lambda_image_adv)
        # beta_i of Eq. 10, 0 for an untrained AU: nothing can teach its CARG a label.
        beta = tuple(b * a for b, a in zip(c.au_loss_weights, c.active_au_mask))
        carg_g = losses.carg_loss(terms["pixel"], terms["adv_z"], terms["adv_au"], terms["label"], **weights)
        total_g = losses.lac_gan_loss(carg_g, beta, terms["identity"], terms["tv"],
                                      terms["adv_img"], **outer)
        carg_d = losses.carg_loss(0.0, terms["d_z"], terms["d_au"], terms["d_label"], **weights)
        zero = tf.zeros_like(terms["d_img"])
        total_d = losses.lac_gan_loss(carg_d, beta, zero, zero, terms["d_img"], **outer)
        return total_g, total_d

    def _losses_and_gradients_impl(self, batch, targets, target_known, prior):
        global_batch = self.config.batch_size
        g_vars, d_vars = self.models.generator_variables, self.models.discriminator_variables
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            terms = self._forward(batch, targets, target_known, prior)
            total_g, total_d = self._objectives(terms)
            loss_g, loss_d = global_mean(total_g, global_batch), global_mean(total_d, global_batch)
            # The identity except under the fp16 LossScaleOptimizer (which unscales in apply).
            scaled_g = self.generator_optimizer.scale_loss(loss_g)
            scaled_d = self.discriminator_optimizer.scale_loss(loss_d)
        g_grads = g_tape.gradient(scaled_g, g_vars)
        d_grads = d_tape.gradient(scaled_d, d_vars)
        reported = {name: global_mean(value, global_batch) for name, value in terms.items()}
        reported.update(total_g=loss_g, total_d=loss_d)
        return reported, g_grads, d_grads

    def _replica_step(self, batch):
        targets, target_known, prior = self._sample(batch["labels"], batch["known_mask"])
        inputs = {name: batch[name] for name in MODEL_INPUTS}
        reported, g_grads, d_grads = self._losses_and_gradients(inputs, targets, target_known, prior)
        self.discriminator_optimizer.apply_gradients(zip(d_grads, self.models.discriminator_variables))
        self.generator_optimizer.apply_gradients(zip(g_grads, self.models.generator_variables))
        return reported

    def _train_step_impl(self, distributed_batch):
        per_replica = self.strategy.run(self._replica_step, args=(distributed_batch,))
        self.step.assign_add(1)
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    # ------------------------------------------------------------------ held-out R^i ------------

    def _held_out_readings_impl(self, batch, targets):
        """What R^i reads {0, 1} [B, 12] on the real ROIs of a batch and on those of its faces edited
        towards `targets` (0/1), through the train step's `local_judgements`; batch norm in inference
        mode (moving statistics), so that validating changes no variable."""
        images, maps = batch["image"], batch["attention_maps"]
        targets = tf.cast(targets, batch["labels"].dtype)
        edited = edit_faces(self.models.generator, images, maps, targets)
        source_labels = tf.where(batch["known_mask"], batch["labels"], targets)
        _, _, real_codes, edited_codes = self.local_judgements(
            attention.au_regions(images, maps), edited, maps, source_labels, targets, training=False)
        return read_label_code(real_codes), read_label_code(edited_codes)

    # ------------------------------------------------------------------ previews ---------------

    def preview_images(self, batch) -> dict[str, tf.Tensor]:
        """Source, reconstruction (source labels), edit (known labels flipped) and the 12 attention
        maps of one batch, as [0, 1] images for TensorBoard."""
        images, maps, known, labels = batch["image"], batch["attention_maps"], batch["known_mask"], batch["labels"]
        flipped = tf.where(known, 1 - labels, 1)
        # Preview only (no loss reads it): an unknown (9) AU is reconstructed as absent.
        reconstruction = edit_faces(self.models.generator, images, maps, tf.where(known, labels, 0))
        edited = edit_faces(self.models.generator, images, maps, flipped)
        # The 12 maps side by side: [B, S, 12 * S, 1].
        attention_strip = tf.concat(tf.unstack(maps[..., None], axis=3), axis=2)
        return {"images/source": (images + 1) / 2, "images/reconstructed": (reconstruction + 1) / 2,
                "images/edited_flipped_labels": (edited + 1) / 2, "images/attention": attention_strip}


def loss_scalars(reported: dict[str, tf.Tensor]) -> dict[str, float]:
    """{'pixel': [12], 'adv_img': []...} -> {'loss/pixel/AU1': ..., 'loss/adv_img': ...} (stable names)."""
    scalars = {}
    for name, value in reported.items():
        value = np.asarray(value)
        if name in PER_AU_TERMS:
            scalars.update({f"loss/{name}/{au}": float(v) for au, v in zip(AU_NAMES, value)})
        else:
            scalars[f"loss/{name}"] = float(value)
    return scalars


def check_finite(scalars: dict[str, float], step: int, last_checkpoint: str | None) -> None:
    bad = [name for name, value in scalars.items() if not math.isfinite(value)]
    if bad:
        kept = last_checkpoint or "none written yet"
        raise NonFiniteLossError(f"non-finite loss at step {step}: {', '.join(f'{n} = {scalars[n]}' for n in bad)}; "
                                 f"stopped without saving this state (last good checkpoint: {kept})")


def training_files(config: LacGanConfig, options: TrainingOptions) -> list[str]:
    """The fold's training shards, every record checked (see dataset.readable_shards); records of any
    size are resized to the config's by the reader."""
    manifest_size = dataset.read_manifest(options.data_dir)["image_size"]
    if manifest_size != config.image_size:
        logging.info("%s holds %dpx faces: resized to the config's %dpx as they are read",
                     options.data_dir, manifest_size, config.image_size)
    files = dataset.fold_files(options.data_dir, options.fold, "train")
    files, _, examples = dataset.readable_shards(files, options.skip_bad_records, Path(options.logdir))
    if config.batch_size > examples:  # a batch larger than the data would read it over and over
        raise UsageError(f"--batch_size {config.batch_size}: the training parts of fold {options.fold} hold "
                         f"{examples} readable examples; choose at most that")
    return files


def untrained_aus(data_dir: str, fold: int) -> dict[str, str]:
    """{AU: why} for the AUs the fold's training parts cannot teach: no frame with the AU present,
    or none with it absent (e.g. AU24 on OpenFace-labelled data, all 9), from the manifest's counts."""
    manifest = dataset.read_manifest(data_dir)
    train_parts, _ = fold_parts(fold, manifest["parts"])
    counts = manifest["au_positive_rate"]["per_part"]
    untrained = {}
    for au in AU_NAMES:
        positive = sum(counts[part][au]["positive"] for part in train_parts)
        known = sum(counts[part][au]["known"] for part in train_parts)
        if known == 0:
            untrained[au] = f"no known label in the training parts {', '.join(train_parts)}"
        elif positive in (0, known):
            state = "absent" if positive == 0 else "present"
            untrained[au] = f"{state} in all {known} labelled training frames ({', '.join(train_parts)})"
    return untrained


def training_batches(files: list[str], config: LacGanConfig, seed: int, start_step: int) -> tf.data.Dataset:
    """Seeded batches, skipping (undecoded) the `start_step` batches a resumed run already used.

    Iterate it once only: tf.data reshuffles for every new iterator of a dataset object, so a second
    iterator would see another order (previews therefore read their own dataset).
    """
    return dataset.make_dataset(files, config.image_size, config.batch_size, seed=seed,
                                skip_examples=start_step * config.batch_size)


def preview_batch(files: list[str], config: LacGanConfig) -> dict[str, tf.Tensor]:
    """The same first examples at every image summary, so progress is visible on fixed faces."""
    data = dataset.make_dataset(files, config.image_size, min(config.batch_size, 4), shuffle=False, repeat=False)
    return next(iter(data))


def _check_options(config: LacGanConfig, options: TrainingOptions) -> None:
    """Options that cannot work, refused before anything is read or built."""
    if options.fold not in JAANET_FOLD_TEST_PART:
        raise UsageError(f"--fold {options.fold}: expected one of {sorted(JAANET_FOLD_TEST_PART)}")
    for name in ("steps", "log_every", "image_every", "checkpoint_every"):
        if getattr(options, name) < 1:
            raise UsageError(f"--{name} {getattr(options, name)}: expected a whole number of steps, at least 1")
    if options.eval_every < 0:
        raise UsageError(f"--eval_every {options.eval_every}: expected a whole number of steps, or 0 for never")
    if options.eval_examples < 1:
        raise UsageError(f"--eval_examples {options.eval_examples}: expected at least 1")
    if config.batch_size < 1:
        raise UsageError(f"--batch_size {config.batch_size}: expected at least 1")
    check_seed(options.seed)
    if options.identity_weights is not None:
        vggface.read_weights(options.identity_weights)  # a missing or wrong file, before the models are built


def _set_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {sorted(PRECISIONS)}")
    keras.config.set_dtype_policy(PRECISIONS[precision])


def _summary_metadata(plugin: str) -> bytes:
    """TensorBoard's plugin tag; written with core `tf.summary.write`, so TensorBoard itself is not needed."""
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)).SerializeToString()


SCALAR_METADATA = _summary_metadata("scalars")
IMAGE_METADATA = _summary_metadata("images")


def write_scalars(writer, scalars: dict[str, float], step: int) -> None:
    with writer.as_default(step=step):
        for name, value in scalars.items():
            tf.summary.write(name, tf.constant(value, tf.float32), metadata=SCALAR_METADATA)


VALIDATION_FILE_NAME = "validation.json"


class ValidationLog:
    """LOGDIR/validation.json of a trainer (`lacgan train`, `lacgan train-detector`): the list of its
    held-out scores by step, rewritten atomically after each evaluation. A resumed run keeps the
    entries up to the step it resumes from (later ones were made by the run it replaces); a new run
    starts a new list."""

    def __init__(self, logdir: str | Path, start_step: int):
        self.path = Path(logdir) / VALIDATION_FILE_NAME
        self.entries = self._read_until(start_step) if start_step and self.path.is_file() else []

    def _read_until(self, step: int) -> list[dict]:
        try:
            entries = json.loads(self.path.read_text())
            # A detector's file written before the list: its one (latest) entry.
            entries = [entries] if isinstance(entries, dict) else entries
            return [entry for entry in entries if entry["step"] <= step]
        except (ValueError, TypeError, KeyError) as error:
            raise DataError(f"{self.path}: unreadable validation entries ({error!r}); move it away to resume "
                            "(a new one is started)") from error

    def add(self, entry: dict) -> None:
        self.entries.append(entry)
        write_json_atomic(self.path, self.entries)


def _image_summary_tensor(images: tf.Tensor, max_outputs: int = 4) -> tf.Tensor:
    """TensorBoard's image format: [width, height, PNG, PNG, ...] as strings; images in [0, 1]."""
    images = tf.image.convert_image_dtype(tf.clip_by_value(images[:max_outputs], 0.0, 1.0), tf.uint8, saturate=True)
    pngs = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    size = tf.strings.as_string(tf.shape(images)[2:0:-1])
    return tf.concat([size, pngs], axis=0)


def _write_images(writer, trainer: LacGanTrainer, batch, step: int) -> None:
    with writer.as_default(step=step):
        for name, images in trainer.preview_images(batch).items():
            tf.summary.write(name, _image_summary_tensor(images), metadata=IMAGE_METADATA)


def build_trainer(config: LacGanConfig, options: TrainingOptions) -> LacGanTrainer:
    keras.utils.set_random_seed(options.seed)
    _set_precision(options.precision)
    strategy = make_strategy(options.strategy)
    identity = None
    if options.identity_weights is None:
        logging.warning("identity loss (Eq. 4) is OFF: --identity_weights=none")
    else:
        with strategy.scope():
            identity = VggFaceFeatures(options.identity_weights, config.image_size, config.identity_layers)
    return LacGanTrainer(config, strategy, seed=options.seed, identity_features=identity,
                         precision=options.precision, xla=options.xla)


def run_training(config: LacGanConfig, options: TrainingOptions) -> list[dict[str, float]]:
    """Train up to global step `options.steps`; returns the loss scalars of every step run here.

    Raises NonFiniteLossError (naming the term and step) without saving the bad state, and, before
    any model is built, UsageError for options that cannot work and DataError for unreadable data.
    """
    _check_options(config, options)
    untrained = untrained_aus(options.data_dir, options.fold)
    for au, reason in untrained.items():
        logging.warning("%s is untrained: %s; its region keeps the source pixels in every edit", au, reason)
    config = config.replace(untrained_aus=tuple(untrained))
    with prepare_logdir(config, options.logdir, options.resume, options.steps) as resume_from:
        return _train(config, options, resume_from)


def _train(config: LacGanConfig, options: TrainingOptions, resume_from: str | None) -> list[dict[str, float]]:
    """run_training's work, in its locked logdir."""
    files = training_files(config, options)
    held_out = (regressor_validation.held_out_set(dataset.fold_files(options.data_dir, options.fold, "test"),
                                                  options.eval_examples) if options.eval_every else None)
    trainer = build_trainer(config, options)
    manager = tf.train.CheckpointManager(trainer.checkpoint, options.logdir, options.max_checkpoints,
                                         checkpoint_name=CHECKPOINT_PREFIX)
    if resume_from is not None:
        trainer.checkpoint.restore(resume_from).assert_consumed()
        logging.info("resumed from %s at step %d", resume_from, int(trainer.step.numpy()))
    start = int(trainer.step.numpy())
    validation = ValidationLog(options.logdir, start) if options.eval_every else None
    preview = preview_batch(files, config)
    batches = iter(trainer.strategy.experimental_distribute_dataset(
        training_batches(files, config, options.seed, start)))
    writer = tf.summary.create_file_writer(str(Path(options.logdir) / "train"))
    history = []
    step = start
    progress = Progress("training steps", options.steps - start)
    while step < options.steps:
        scalars = loss_scalars(trainer.train_step(next(batches)))
        step = int(trainer.step.numpy())
        check_finite(scalars, step, manager.latest_checkpoint)
        history.append(scalars)
        progress.advance_to(step - start)
        if step % options.log_every == 0:
            write_scalars(writer, {**scalars, "learning_rate": trainer.config.learning_rate}, step)
            logging.info("step %d: total_g %.4f total_d %.4f", step, scalars["loss/total_g"], scalars["loss/total_d"])
        if step % options.image_every == 0:
            _write_images(writer, trainer, preview, step)
        if step % options.checkpoint_every == 0 or step == options.steps:
            save_checkpoint(manager, step)
        if validation is not None and (step % options.eval_every == 0 or step == options.steps):
            figures = regressor_validation.regressor_validation(trainer, held_out)
            write_scalars(writer, regressor_validation.validation_scalars(figures), step)
            logging.info("step %d: %s", step, regressor_validation.summary_line(figures))
            validation.add({"step": step, "fold": options.fold, **figures})
    writer.flush()
    return history


def validate_checkpoint(checkpoint: str, data_dir: str, fold: int, examples: int) -> dict:
    """The held-out R^i figures of a checkpoint (a logdir: its newest), as training's validation.json
    entry for its step would hold them."""
    path = resolve_checkpoint(checkpoint)
    config = LacGanConfig.load(checkpoint_logdir(path))
    trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0)
    trainer.checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
    held_out = regressor_validation.held_out_set(dataset.fold_files(data_dir, fold, "test"), examples)
    return {"step": checkpoint_step(path), "fold": fold,
            **regressor_validation.regressor_validation(trainer, held_out)}
