"""One LAC-GAN train step (Eq. 3-10): the trainer holding every network, both optimizers, the step
counter and the RNG, and its distributed `train_step`.

One step:
  1. sample target labels l^t (Bernoulli per AU) and prior samples z ~ U(-1, 1) from the
     checkpointed tf.random.Generator;
  2. one forward pass: regions (Eq. 1), z = G_en(regions), a reconstruction pass G_de(z, l^s)
     (Eq. 5, source labels) and an editing pass G_de(z, l^t) composed into X^t (Eq. 2), and every
     discriminator on real and generated inputs;
  3. generator and discriminator gradients from that same forward pass (pix2pix style), applied
     discriminators first, then generator.
Losses are averaged over the global batch and D^i's batch norm is synchronized, so Mirrored /
MultiWorkerMirrored training takes the same steps as one device given the same random draws (each
replica draws its targets from its own stream of the generator). The loop around it:
lac_gan/training/loop.py.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.nets.cargs import LacGanModels, read_label_code
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.synthesis import composed_maps, edit_faces
from lac_gan.nets.vggface import VggFaceFeatures
from lac_gan.training import losses

# The batch entries the step reads (the dataset also carries strings, which XLA cannot take).
MODEL_INPUTS = ("image", "attention_maps", "labels", "known_mask", "face_landmarks", "au_centres")
PER_AU_TERMS = ("pixel", "adv_z", "adv_au", "label", "d_z", "d_au", "d_label")
PRECISIONS = {"float32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}


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

def donor_targets(rng: tf.random.Generator, labels, known):
    """Target labels l^t [B, 12] in {0, 1} and which of them are known: another example's labels (a
    random permutation of the batch), so that they follow the data's AU rates and co-occurrences:
    with independent Bernoulli(0.5) targets a label-conditioned D^i could tell fake from real by the
    label alone. A donor's unknown (9) AU gets the example's own label (or 0) and is masked out of
    the label term."""
    donors = tf.argsort(rng.uniform([tf.shape(labels)[0]]))
    donor_labels, donor_known = tf.gather(labels, donors), tf.gather(known, donors)
    return tf.where(donor_known, donor_labels, tf.where(known, labels, 0)), donor_known


class AdversarialTrainer:
    """The distributed train step both trainers share (LacGanTrainer here, RegionTrainer in
    training/region_step.py): `_sample` draws the step's random inputs, `_forward` gives the
    per-example loss terms and `_objectives` the generator's and discriminators' totals; both
    gradients come from that one forward pass and are applied discriminators first."""

    def _losses_and_gradients_impl(self, batch, *sampled):
        global_batch = self.config.batch_size
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            terms = self._forward(batch, *sampled)
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
        sampled = self._sample(batch["labels"], batch["known_mask"])
        inputs = {name: batch[name] for name in MODEL_INPUTS}
        reported, g_grads, d_grads = self._losses_and_gradients(inputs, *sampled)
        self.discriminator_optimizer.apply_gradients(zip(d_grads, self.discriminator_variables))
        self.generator_optimizer.apply_gradients(zip(g_grads, self.generator_variables))
        return reported

    def _train_step_impl(self, distributed_batch):
        per_replica = self.strategy.run(self._replica_step, args=(distributed_batch,))
        self.step.assign_add(1)
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}


class LacGanTrainer(AdversarialTrainer):
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

    @property
    def generator_variables(self) -> list:
        return self.models.generator_variables

    @property
    def discriminator_variables(self) -> list:
        return self.models.discriminator_variables

    # ------------------------------------------------------------------ one step ---------------

    def _sample(self, labels, known):
        """Target labels l^t [B, 12] in {0, 1} and which of them are known (`donor_targets`), and
        latent prior samples [B, 12, N_z] ~ U(-1, 1)."""
        targets, donor_known = donor_targets(self.rng, labels, known)
        prior = self.rng.uniform([tf.shape(labels)[0], NUM_AUS, self.config.z_dim], -1.0, 1.0)
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
        train step's call, which the held-out validation makes too (lac_gan/training/regressor_validation.py)."""
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
