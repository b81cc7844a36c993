"""The loss terms of LAC-GAN (paper Eq. 3-10), each a small pure function.

Every function returns per-example values (shape [B] or [B, 12], float32) so that the training step
can average them over the *global* batch (`tf.nn.compute_average_loss`), which is what keeps
multi-replica training equal to single-device training. Label-dependent terms take a `weights`
mask: an AU whose BP4D label is 9 (not coded) gets weight 0 there, it is never read as 0 (absent).
"""
from __future__ import annotations

import tensorflow as tf

from lac_gan.nets.cargs import label_code


def _f32(x):
    return tf.cast(x, tf.float32)


def _sigmoid_cross_entropy(logits, target: float):
    logits = _f32(logits)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits)


def discriminator_adversarial_loss(real_logits, fake_logits, real_weights=None):
    """The discriminator side of Eq. 3 (D_img), Eq. 6 (D_z^i) and Eq. 7 (D^i): maximising
    E[log D(real)] + E[log(1 - D(fake))] is minimising -log sigmoid(real) - log(1 - sigmoid(fake)).

    Elementwise over the logits' shape; `real_weights` (e.g. the known-label mask of Eq. 7's real,
    label-conditioned pairs) multiplies the real term.
    """
    real = _sigmoid_cross_entropy(real_logits, 1.0)
    if real_weights is not None:
        real = real * _f32(real_weights)
    return real + _sigmoid_cross_entropy(fake_logits, 0.0)


def generator_adversarial_loss(fake_logits):
    """The generator side of Eq. 3, 6 and 7, in the non-saturating form: -log D(fake), elementwise."""
    return _sigmoid_cross_entropy(fake_logits, 1.0)


def pixel_loss(generated_regions, regions, attention_maps, weights, reduction="sum"):
    """Eq. 5: || X^{hat AU_i} - X^{AU_i} ||_1, where X^{hat AU_i} = A_i x G_AU_i(...) is the generated
    ROI (the part Eq. 2 uses) and X^{AU_i} = A_i x X^s.

    reduction "sum" (default): the paper's l1 *norm*, summed over the ROI's pixels and channels. That
    is what keeps the reconstruction ahead of the lambda-weighted adversarial and label terms (see
    docs/paper-notes.md: with a per-pixel mean the pixel loss barely fell and the edits turned into
    speckle). "roi_mean": the same divided by 3 x the attention mass sum(A_i), the L1 per ROI pixel.

    generated_regions, regions [12, B, S, S, 3]; attention_maps [B, S, S, 12]; weights [B, 12] (0
    where the source label is unknown: there is no true label to reconstruct with). Returns [B, 12].
    """
    l1 = tf.transpose(tf.reduce_sum(tf.abs(_f32(generated_regions) - _f32(regions)), axis=[2, 3, 4]))
    if reduction == "roi_mean":
        l1 = l1 / tf.maximum(3.0 * tf.reduce_sum(_f32(attention_maps), axis=[1, 2]), 1.0)
    elif reduction != "sum":
        raise ValueError(f"unknown pixel loss reduction {reduction!r}; choose sum or roi_mean")
    return l1 * _f32(weights)


def label_regression_loss(predicted_codes, labels, weights=None):
    """Eq. 8: || R_AU_i(X) - l_AU_i ||_2^2 with l the +-1 one-hot of the label.

    predicted_codes [B, 12, 2], labels {0, 1} [B, 12], weights [B, 12] or None. Returns [B, 12].
    """
    loss = tf.reduce_sum(tf.square(_f32(predicted_codes) - label_code(labels)), axis=-1)
    return loss if weights is None else loss * _f32(weights)


def identity_loss(generated_features, reference_features, layer_weights):
    """Eq. 4: sum_l alpha_l L1(phi_l(X^t), phi_l(X^r)), L1 as the mean absolute difference of each
    layer's activations. Features: lists of [B, h_l, w_l, c_l]. Returns [B].
    """
    terms = [alpha * tf.reduce_mean(tf.abs(_f32(a) - _f32(b)), axis=[1, 2, 3])
             for alpha, a, b in zip(layer_weights, generated_features, reference_features)]
    return tf.add_n(terms)


def total_variation_loss(images):
    """L_tv of Eq. 10 (Mahendran & Vedaldi, beta = 1, anisotropic): mean |x[i+1,j] - x[i,j]| plus
    mean |x[i,j+1] - x[i,j]| over the image. images [B, S, S, 3] -> [B].
    """
    images = _f32(images)
    rows = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]), axis=[1, 2, 3])
    cols = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]), axis=[1, 2, 3])
    return rows + cols


def carg_loss(pixel, adv_z, adv_au, label, *, lambda_latent_adv, lambda_au_adv, lambda_au_label):
    """Eq. 9 with Eq. 7's label term: L_CARG^i = L_pixel^i + l1 L_adv_z^i + l2 (L_adv_AU^i + l_AU L_label^i).

    All inputs [B, 12]; returns [B, 12]. Used for both players: the generator passes its terms
    (pixel, -log D(fake), R on the edited region), the discriminators theirs (pixel = 0).
    """
    return pixel + lambda_latent_adv * adv_z + lambda_au_adv * (adv_au + lambda_au_label * label)


def lac_gan_loss(carg, au_weights, identity, tv, image_adv, *, lambda_identity, lambda_tv,
                 lambda_image_adv):
    """Eq. 10: sum_i beta_i L_CARG^i + l3 L_id + l4 L_tv, plus the global adversarial term of Eq. 3
    (defined by the paper's min-max but left out of its Eq. 10; weight lambda_image_adv).

    carg [B, 12], au_weights [12] (beta_i), identity / tv / image_adv [B]. Returns [B].
    """
    return (tf.reduce_sum(carg * tf.constant(au_weights, tf.float32), axis=-1)
            + lambda_identity * identity + lambda_tv * tv + lambda_image_adv * image_adv)
