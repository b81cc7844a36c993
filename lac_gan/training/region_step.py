"""One train step of the region editor (beyond the paper; docs/paper-notes.md, "The region editor"):
the trainer holding the editor, the paper's local D^i / R^i and global D, both optimizers, the step
counter and the RNG, with the same surface as LacGanTrainer (train_step, held_out_readings,
preview_images, checkpoint), so that the loop (lac_gan/training/loop.py) trains either.

One step:
  1. target labels l^t: another example's labels (`donor_targets`, as for the CARGs);
  2. the editor on the batch towards l^t (the requested change l^t - l^s where both are known, 0
     elsewhere: lac_gan/nets/movement.py:requested_change), then the edits back towards l^s from
     their moved landmarks (cycle);
  3. D^i / R^i on the real ROIs A_i x X^s (source labels) and on the edited faces' ROIs (targets),
     each cut around its AU centres (`roi_crops`), D on real and edited faces;
  4. generator and discriminator gradients from that forward pass, discriminators applied first.
Generator loss: lambda_image_adv L_adv(D) + sum_i beta_i lambda_2 (L_adv(D^i) + lambda_AU L_label(R^i))
+ lambda_cycle |cycle - X^s| + lambda_shade mean(|shading|) + lambda_residual mean(residual moves^2)
+ lambda_gain mean(gain^2) (the measured movement as a prior) + lambda_3 L_id; the discriminators'
as in Eq. 3, 7, 8. An edit to the source's own labels requests nothing and is the source exactly,
so it needs no loss.
"""
from __future__ import annotations

import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets import movement
from lac_gan.nets.cargs import GlobalDiscriminator, LocalAUDiscriminators, read_label_code
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.region_editor import RegionEditorNet
from lac_gan.nets.vggface import VggFaceFeatures
from lac_gan.training import losses
from lac_gan.training.step import AdversarialTrainer, donor_targets, make_optimizer


def roi_crops(images, attention_maps, centres, crop: int) -> tf.Tensor:
    """Eq. 1's ROIs A_i x X [12, B, S, S, 3], each cut to the square around its two AU centres
    (centres [B, 12, 2, 2], crop pixels) and the reach of its map, resized to crop x crop:
    [12, B, crop, crop, 3]. D^i / R^i see the ROI at about its own resolution instead of a whole
    face that is zero but for it (10x fewer pixels at 128 px)."""
    regions = attention.au_regions(images, attention_maps)
    size = images.shape[1]
    half = round((size - 1) / 2.0 * attention.SPATIAL_RATIO) + 1
    centres = tf.transpose(tf.cast(centres, tf.float32), [1, 0, 2, 3])  # [12, B, 2, (x, y)]
    low, high = tf.reduce_min(centres, axis=2) - half, tf.reduce_max(centres, axis=2) + half
    middle, side = (low + high) / 2, tf.reduce_max(high - low, axis=-1, keepdims=True) / 2
    low, high = middle - side, middle + side
    boxes = tf.reshape(tf.stack([low[..., 1], low[..., 0], high[..., 1], high[..., 0]], -1) / (size - 1), [-1, 4])
    flat = tf.reshape(regions, tf.concat([[-1], tf.shape(regions)[2:]], 0))
    crops = tf.image.crop_and_resize(flat, boxes, tf.range(tf.shape(flat)[0]), [crop, crop])
    return tf.reshape(crops, [NUM_AUS, -1, crop, crop, 3])


def _l1(a, b):
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)), axis=[1, 2, 3])


class RegionTrainer(AdversarialTrainer):
    """The region editor's networks, optimizers, step counter and RNG, plus its train step."""

    def __init__(self, config: LacGanConfig, strategy: tf.distribute.Strategy, *, seed: int,
                 identity_features: VggFaceFeatures | None = None, precision: str = "float32",
                 xla: bool = False):
        self.config, self.strategy = config, strategy
        self.identity_features = identity_features
        s = config.image_size
        with strategy.scope():
            self.generator = RegionEditorNet(config, name="region_editor")
            self.generator.create_weights()
            self.local_discriminator = LocalAUDiscriminators(config.replace(image_size=config.region_disc_crop),
                                                             name="local_au_discriminators")
            self.global_discriminator = GlobalDiscriminator(config, name="global_discriminator")
            c = config.region_disc_crop
            self.local_discriminator(tf.zeros([NUM_AUS, 1, c, c, 3]), tf.zeros([1, NUM_AUS], tf.int32))
            self.global_discriminator(tf.zeros([1, s, s, 3]))
            self.generator_optimizer = make_optimizer(config, precision)
            self.discriminator_optimizer = make_optimizer(config, precision)
            self.generator_optimizer.build(self.generator_variables)
            self.discriminator_optimizer.build(self.discriminator_variables)
            self.rng = tf.random.Generator.from_seed(seed)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator, local_au_discriminators=self.local_discriminator,
            global_discriminator=self.global_discriminator, generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer, step=self.step, rng=self.rng)
        self._losses_and_gradients = (tf.function(self._losses_and_gradients_impl, jit_compile=True) if xla
                                      else self._losses_and_gradients_impl)
        self.train_step = tf.function(self._train_step_impl)
        self.held_out_readings = tf.function(self._held_out_readings_impl, reduce_retracing=True)
        self._active = tf.constant(config.active_au_mask, tf.float32)

    @property
    def generator_variables(self) -> list:
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self) -> list:
        return self.local_discriminator.trainable_variables + self.global_discriminator.trainable_variables

    # ------------------------------------------------------------------ one step ---------------

    def _edit(self, images, landmarks, targets, source_labels):
        """(edited faces, the plan, the editor's extras) towards targets [B, 12] from the faces'
        labels (0/1/9), every trained AU chosen."""
        requested = movement.requested_change(tf.cast(targets, tf.float32), source_labels) * self._active
        plan, extras = self.generator.edit_plan(images, landmarks, requested, self.config.flow_stride)
        return movement.render(images, plan, self.config.flow_stride), plan, extras

    def _identity(self, edited, images):
        if self.identity_features is None:
            return tf.zeros(tf.shape(images)[:1])
        reference = [tf.stop_gradient(f) for f in self.identity_features(images)]
        return losses.identity_loss(self.identity_features(edited), reference, self.config.identity_layer_weights)

    def local_judgements(self, images, edited, attention_maps, centres, source_labels, targets, training):
        """D^i and R^i on the real ROIs (source labels) and the edited faces' ROIs (targets), the
        source's maps and centres for both (`roi_crops`), in one batch so batch norm sees both alike
        -> real / fake logits [B, 12], real / fake R codes [B, 12, 2]."""
        crop = self.config.region_disc_crop
        both = roi_crops(tf.concat([images, edited], 0), tf.concat([attention_maps, attention_maps], 0),
                         tf.concat([centres, centres], 0), crop)
        logits, codes = self.local_discriminator(both,
                                                 tf.concat([source_labels, targets], axis=0), training=training)
        real_logits, fake_logits = tf.split(logits, 2, axis=0)
        real_codes, fake_codes = tf.split(codes, 2, axis=0)
        return real_logits, fake_logits, real_codes, fake_codes

    def _forward(self, batch, targets, target_known):
        images, maps, known = batch["image"], batch["attention_maps"], batch["known_mask"]
        landmarks = batch["face_landmarks"]
        source_labels = tf.where(known, batch["labels"], targets)
        edited, plan, extras = self._edit(images, landmarks, targets, source_labels)
        cycled, _, _ = self._edit(edited, movement.moved_landmarks(landmarks, plan), source_labels, targets)
        real_au, fake_au, real_codes, fake_codes = self.local_judgements(
            images, edited, maps, batch["au_centres"], source_labels, targets, training=True)
        real_image_logits = self.global_discriminator(images)
        fake_image_logits = self.global_discriminator(edited)
        return {
            "adv_au": losses.generator_adversarial_loss(fake_au),
            "label": losses.label_regression_loss(fake_codes, targets, target_known),
            "adv_img": losses.generator_adversarial_loss(fake_image_logits),
            "cycle": _l1(cycled, images),
            "shade": tf.reduce_mean(tf.abs(extras["shades"]), axis=[1, 2, 3]),
            "residual": tf.reduce_mean(tf.square(extras["residuals"]), axis=[1, 2]),
            "gain": tf.reduce_mean(tf.square(extras["gains"]), axis=-1),
            "identity": self._identity(edited, images),
            "d_au": losses.discriminator_adversarial_loss(real_au, fake_au, known),
            "d_label": losses.label_regression_loss(real_codes, source_labels, known),
            "d_img": losses.discriminator_adversarial_loss(real_image_logits, fake_image_logits),
        }

    def _objectives(self, terms):
        c = self.config
        beta = tf.constant([b * a for b, a in zip(c.au_loss_weights, c.active_au_mask)], tf.float32)
        local_g = c.lambda_au_adv * (terms["adv_au"] + c.lambda_au_label * terms["label"])
        local_d = c.lambda_au_adv * (terms["d_au"] + c.lambda_au_label * terms["d_label"])
        total_g = (tf.reduce_sum(local_g * beta, axis=-1) + c.lambda_image_adv * terms["adv_img"]
                   + c.lambda_cycle * terms["cycle"] + c.lambda_shade * terms["shade"]
                   + c.lambda_residual * terms["residual"] + c.lambda_gain * terms["gain"]
                   + c.lambda_identity * terms["identity"])
        total_d = tf.reduce_sum(local_d * beta, axis=-1) + c.lambda_image_adv * terms["d_img"]
        return total_g, total_d

    def _sample(self, labels, known):
        """Target labels [B, 12] and which of them are known: other examples' (`donor_targets`)."""
        return donor_targets(self.rng, labels, known)

    # ------------------------------------------------------------------ held-out R^i ------------

    def _held_out_readings_impl(self, batch, targets):
        """What R^i reads {0, 1} [B, 12] on the real ROIs of a batch and on those of its faces edited
        towards `targets` (0/1); batch norm in inference mode."""
        images, maps = batch["image"], batch["attention_maps"]
        targets = tf.cast(targets, batch["labels"].dtype)
        source_labels = tf.where(batch["known_mask"], batch["labels"], targets)
        edited, _, _ = self._edit(images, batch["face_landmarks"], targets, source_labels)
        _, _, real_codes, edited_codes = self.local_judgements(images, edited, maps, batch["au_centres"],
                                                               source_labels, targets, training=False)
        return read_label_code(real_codes), read_label_code(edited_codes)

    # ------------------------------------------------------------------ previews ---------------

    def preview_images(self, batch) -> dict[str, tf.Tensor]:
        """Source, the edit with known labels flipped, that edit taken back to the source's labels
        (the cycle), and the flipped edit's shading per AU (12 side by side, 0.5 = none), as [0, 1]
        images."""
        images, known, labels = batch["image"], batch["known_mask"], batch["labels"]
        landmarks = batch["face_landmarks"]
        sources = tf.where(known, labels, 0)
        edited, plan, extras = self._edit(images, landmarks, 1 - sources, sources)
        cycled, _, _ = self._edit(edited, movement.moved_landmarks(landmarks, plan), sources, 1 - sources)
        shades = tf.concat(tf.unstack(extras["shades"][..., None], axis=3), axis=2)
        return {"images/source": (images + 1) / 2, "images/edited_flipped_labels": (edited + 1) / 2,
                "images/cycled_back": (cycled + 1) / 2, "images/shading": 0.5 + shades}

