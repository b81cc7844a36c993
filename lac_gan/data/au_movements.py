"""How each AU moves the face: which of the 49 landmarks move, which way and how far.

The table of `../shared/spec/edits_openface_reads.md` ("A movement for every AU"), measured with
OpenFace 2.0.6 on held-out LFW people, written in the record's 49-point scheme (49-index =
68-index - 17 for the brows, nose, eyes and outer lips; inner lips 61-63 -> 43-45, 65-67 -> 46-48).
Points the 49-point scheme lacks (the jaw's cheek and chin points, the inner mouth corners 60 / 64)
are placed relative to a landmark (`at_out`, `at_down`). Distances are inter-ocular distances
(IOD, between the eye centres) in the face's own frame: x along the eye line, "out" away from the
face's midline (a midline point has no out component), "up" perpendicular to the eye line.
AU24 is not in the measured table (OpenFace has no AU24): its row is ours, the lips pressed
together. AU14's corners move out, not in as the spec's row (read in 2-5 %): the dimpler pulls them
back into the cheeks, which a frontal photo shows as wider (docs/paper-notes.md, "Creases"); AU17's
lower lip rises 0.18, not 0.10. The creases (folds of skin an AU draws as a shadow) are ours,
measured with OpenFace on held-out LFW people. The warp editor (lac_gan/nets/warp_editor.py) moves
these points at strength 1; the region editor (lac_gan/nets/region_editor.py) learns how strongly,
around the same directions.
"""
from __future__ import annotations

from dataclasses import dataclass

from lac_gan.data.au_table import AU_NAMES

# 49-point indices of the eyes, whose centres define the face frame and the IOD.
LEFT_EYE = tuple(range(19, 25))
RIGHT_EYE = tuple(range(25, 31))


@dataclass(frozen=True)
class ControlPoint:
    """A point that an AU moves: landmark `landmark` (49-point), shifted by (at_out, at_down) IOD to
    where the point sits, moved by (out, up) IOD at strength 1."""
    landmark: int
    out: float = 0.0
    up: float = 0.0
    at_out: float = 0.0
    at_down: float = 0.0


@dataclass(frozen=True)
class RestingPlace:
    """Where a moving landmark sits on faces without the AU: mean and standard deviation of its
    (out, up) place in the face frame, IOD from the eyes' midpoint."""
    landmark: int
    out: float
    out_sd: float
    up: float
    up_sd: float


@dataclass(frozen=True)
class StillPoint:
    """A landmark an AU's movement holds back: it joins the AU's normalised mix with no move, a kernel
    of width `sigma` (IOD) and `weight` times a moving point's weight (lac_gan/nets/movement.py:
    with_still_points). Weight 10 holds it still (~1/11 of the flow it would have); a weight near a
    moving point's lets it move part of the way."""
    landmark: int
    weight: float = 10.0
    sigma: float = 0.12


@dataclass(frozen=True)
class Crease:
    """A fold of skin an AU makes (a furrow, a dimple): a line from `start` (out, down) IOD from
    landmark `landmark` in the face frame (as a control point's at_out / at_down) to `end` from
    `end_landmark` (the same landmark unless given: a fold across the midline, such as the chin's,
    runs between two), drawn as a shadow `width` (IOD, the kernel's sigma across the line) wide that
    darkens the skin on the line by the fraction `depth` at strength 1, fading towards its ends
    (lac_gan/nets/movement.py:crease_shade)."""
    landmark: int
    start: tuple[float, float]
    end: tuple[float, float]
    width: float = 0.025
    depth: float = 0.3
    end_landmark: int | None = None


@dataclass(frozen=True)
class AuMovement:
    """An AU's control points and the width (sigma, IOD) of the smooth kernel spreading their moves;
    `resting`, where measured, the resting places of its moving landmarks, from which an editor
    estimates how far a photo's own face has already moved (lac_gan/nets/movement.py:source_strength);
    `still`, the landmarks its movement holds back (StillPoint); `creases`, the folds of skin it
    draws when switched on (Crease): the appearance OpenFace reads where a movement alone is not."""
    sigma: float
    points: tuple[ControlPoint, ...]
    resting: tuple[RestingPlace, ...] = ()
    still: tuple[StillPoint, ...] = ()
    creases: tuple[Crease, ...] = ()

    @property
    def on_landmarks(self) -> dict[int, ControlPoint]:
        """Its control points placed on a landmark itself (no offset), by landmark: where a face's own
        landmark shows the movement (resting places are measured there)."""
        return {p.landmark: p for p in self.points if p.at_out == 0 and p.at_down == 0}


def _each(landmarks, **move) -> tuple[ControlPoint, ...]:
    return tuple(ControlPoint(i, **move) for i in landmarks)


def _still(landmarks, **hold) -> tuple[StillPoint, ...]:
    return tuple(StillPoint(i, **hold) for i in landmarks)


def _creases(landmarks, start, end, **shadow) -> tuple[Crease, ...]:
    return tuple(Crease(i, start, end, **shadow) for i in landmarks)


# The nostrils (68-point 31-35), which a mouth movement wide enough to look like a smile (AU12's
# sigma 0.35 IOD) drags by 0.66 of the corners' move: held still by AU12 and AU15.
NOSE_BASE = tuple(range(14, 19))
# The lips' middle: upper lip top 33-35, inner lips 43-48, lower lip bottom 39-41 (68-point 50-52,
# 61-67, 56-58). Within a person, a smile (OpenFace's AU12) lifts the lip corners 0.064 IOD and
# the upper lip's middle 0.031, the lower lip's 0.003 (479 training people photographed with and
# without it): the mouth curves. Moved by AU12's kernel alone, the middle rose 0.8-1.0 of the
# corners (the mouth lifted as a block, the upper lip squeezed thin against the still nose); held
# by AU12 with half a moving point's weight, 0.4-0.5 of them (docs/paper-notes.md, "Still points").
LIP_MIDDLE = (33, 34, 35, 43, 44, 45, 46, 47, 48, 39, 40, 41)
# Lip corners 48 / 54 (68-point) are 31 / 37; the inner corners 60 / 64 are placed 0.05 IOD inward.
_INNER_CORNER = dict(at_out=-0.05)

# The lip corners on the 4,546 training faces (LFW + video_au people, parts 1-2) that OpenFace labels
# without AU12, measured by benchmarks/resting_geometry.py. Of the AUs moved by landmarks, only AU12's
# estimate tells held-out faces with it from faces without well (AUC 0.87; AU6's lids 0.88, but
# OpenFace reads AU6 from the cheek's appearance, which they do not measure; the others 0.33-0.77:
# docs/paper-notes.md, "Undoing an AU"), so the others have none and an edit of a photo assumes a
# typical occurrence.
_AU12_RESTING = (RestingPlace(31, out=0.4189, out_sd=0.0538, up=-1.1168, up_sd=0.0835),
                 RestingPlace(37, out=0.4060, out_sd=0.0569, up=-1.1153, up_sd=0.0822))

AU_MOVEMENTS: dict[str, AuMovement] = {
    "AU1": AuMovement(0.30, _each((4, 5), up=0.18) + _each((3, 6), up=0.12)),
    "AU2": AuMovement(0.30, _each((0, 9), out=0.02, up=0.18) + _each((1, 8), up=0.14)),
    "AU4": AuMovement(0.30, _each((4, 5), out=-0.08, up=-0.12) + _each((3, 6), out=-0.06, up=-0.10)
                      + _each((2, 7), out=-0.03, up=-0.07) + _each((0, 1, 8, 9), up=-0.04),
                      creases=_creases((4, 5), (-0.125, -0.08), (-0.125, 0.16), width=0.06, depth=0.3)),
    # The cheeks (68-point jaw 1, 2, 14, 15) as points 0.55 IOD below the outer eye corners.
    "AU6": AuMovement(0.25, _each((23, 24, 29, 30), up=0.07) + _each((19, 28), up=0.05)
                      + _each((19, 28), up=0.10, at_out=0.05, at_down=0.55) + _each((31, 37), up=0.05)),
    "AU7": AuMovement(0.18, _each((23, 24, 29, 30), up=0.07) + _each((20, 21, 26, 27), up=-0.03)),
    "AU10": AuMovement(0.25, _each((33, 34, 35), up=0.12) + _each((32, 36), up=0.09)
                       + _each((43, 44, 45), up=0.11) + _each((14, 15, 16, 17, 18), up=0.04)),
    "AU12": AuMovement(0.35, _each((31, 37), out=0.105, up=0.21)
                       + _each((31, 37), out=0.08, up=0.16, **_INNER_CORNER), resting=_AU12_RESTING,
                       still=_still(NOSE_BASE) + _still(LIP_MIDDLE, weight=0.5)),
    "AU14": AuMovement(0.30, _each((31, 37), out=0.06, up=0.03)
                       + _each((31, 37), out=0.05, up=0.02, **_INNER_CORNER),
                       creases=_creases((31, 37), (0.05, -0.05), (0.06, 0.10), width=0.03, depth=0.45)),
    "AU15": AuMovement(0.25, _each((31, 37), out=0.03, up=-0.16)
                       + _each((31, 37), up=-0.12, **_INNER_CORNER) + _each((39, 41), up=-0.04),
                       still=_still(NOSE_BASE)),
    # The chin (68-point 7-9) as points 0.5 IOD below the lower lip.
    "AU17": AuMovement(0.30, _each((39, 40, 41), up=0.18) + _each((46, 47, 48), up=0.14)
                       + _each((39, 40, 41), up=0.08, at_down=0.5),
                       creases=(Crease(42, (0.0, 0.2), (0.0, 0.2), width=0.06, depth=0.3, end_landmark=38),)),
    "AU23": AuMovement(0.22, _each((33, 34, 35), up=-0.05) + _each((39, 40, 41), up=0.05)
                       + _each((31, 37), out=-0.04)),
    "AU24": AuMovement(0.22, _each((33, 34, 35), up=-0.04) + _each((39, 40, 41), up=0.04)
                       + _each((43, 44, 45), up=-0.03) + _each((46, 47, 48), up=0.03)),
}

if tuple(AU_MOVEMENTS) != AU_NAMES:
    raise ValueError("AU_MOVEMENTS needs one movement per AU, in the AU table's order")
