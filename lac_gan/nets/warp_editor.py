"""The `warp` editor: a fixed geometric warp of each AU's own landmarks, with no learned weights.

Each chosen AU moves its control points as lac_gan/data/au_movements.py says, by the requested
change (lac_gan/nets/movement.py:requested_change: 0 when the AU is already as asked). Spread by the
smooth, compact kernel of lac_gan/nets/movement.py; the AUs switched on also draw the table's creases
(AU4's furrows, AU14's dimples, AU17's chin fold: movement.crease_shade), a shadow and nothing else.
What OpenFace reads from movement (AU1, AU2, AU10, AU12) or from those folds it can switch; the rest
of what it reads from appearance (AU6's cheeks, AU7's lids, AU23's lips) it cannot. It is the baseline
a learned editor must beat, and it edits photos with nothing trained (`lacgan edit --editor warp`).
"""
from __future__ import annotations

import tensorflow as tf

from lac_gan.nets import movement

WARP_CROP_SIZE = 200  # the paper's aligned face; the warp itself is drawn at the photo's resolution


class WarpEditor(movement.Editor):
    family = "warp"

    def __init__(self, image_size: int = WARP_CROP_SIZE, table: movement.ControlTable = movement.CONTROL_TABLE):
        self.image_size = image_size
        self.table = table

    def plan(self, images, attention_maps, landmarks, targets, chosen, source_labels) -> movement.EditPlan:
        points, moves, radii = movement.control_points(landmarks, self.table)
        strength = movement.requested_change(targets, source_labels, landmarks) * chosen
        per_point = tf.gather(strength, self.table.owner, axis=1)[..., None]
        points, moves, radii = movement.with_still_points(landmarks, points, moves * per_point, radii)
        return movement.EditPlan(points=points, moves=moves, radii=radii,
                                 owner_one_hot=tf.constant(movement.PLAN_OWNERS),
                                 colour=tf.zeros_like(images), colour_weight=tf.zeros_like(images[..., 0]),
                                 shade=movement.crease_shade(images, landmarks, strength))
