"""The 12 BP4D action units of the paper, defined once for the whole project.

Each AU carries its FACS name, the face region it lives in, and the two centre rules of
JAA-Net/EAC-Net (`../shared/spec/au_centres.md`): a 0-based index into the 49-point landmark
scheme plus a vertical offset measured in "rulers" (the distance between the inner eye corners,
points 22 and 25). y grows downwards, so a negative offset moves the centre up.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CentreRule:
    landmark: int
    dy_rulers: float = 0.0


@dataclass(frozen=True)
class ActionUnit:
    number: int
    facs_name: str
    region: str
    centres: tuple[CentreRule, CentreRule]

    @property
    def name(self) -> str:
        return f"AU{self.number}"


ACTION_UNITS: tuple[ActionUnit, ...] = (
    ActionUnit(1, "inner brow raiser", "brows", (CentreRule(4, -1 / 2), CentreRule(5, -1 / 2))),
    ActionUnit(2, "outer brow raiser", "brows", (CentreRule(1, -1 / 3), CentreRule(8, -1 / 3))),
    ActionUnit(4, "brow lowerer", "brows", (CentreRule(2, 1 / 3), CentreRule(7, 1 / 3))),
    ActionUnit(6, "cheek raiser", "cheeks", (CentreRule(24, 1.0), CentreRule(29, 1.0))),
    ActionUnit(7, "lid tightener", "eyes", (CentreRule(21), CentreRule(26))),
    ActionUnit(10, "upper lip raiser", "upper lip", (CentreRule(43), CentreRule(45))),
    ActionUnit(12, "lip corner puller", "lip corners", (CentreRule(31), CentreRule(37))),
    ActionUnit(14, "dimpler", "lip corners", (CentreRule(31), CentreRule(37))),
    ActionUnit(15, "lip corner depressor", "lip corners", (CentreRule(31), CentreRule(37))),
    ActionUnit(17, "chin raiser", "chin", (CentreRule(39, 1 / 2), CentreRule(41, 1 / 2))),
    ActionUnit(23, "lip tightener", "lips", (CentreRule(34), CentreRule(40))),
    ActionUnit(24, "lip pressor", "lips", (CentreRule(34), CentreRule(40))),
)

NUM_AUS = len(ACTION_UNITS)
AU_NUMBERS: tuple[int, ...] = tuple(au.number for au in ACTION_UNITS)
AU_NAMES: tuple[str, ...] = tuple(au.name for au in ACTION_UNITS)

# Expressions as combinations of the 12 AUs: happy AU6+AU12 is the FACS/EMFACS happiness prototype,
# angry AU4+AU23 the paper's (§4.2), sad EMFACS's AU1+AU4+AU15; EMFACS's surprise also has AU5 and
# AU26, which BP4D does not code, so here it is the brows' AU1+AU2.
EXPRESSIONS: dict[str, tuple[str, ...]] = {
    "happy": ("AU6", "AU12"),
    "surprise": ("AU1", "AU2"),
    "angry": ("AU4", "AU23"),
    "sad": ("AU1", "AU4", "AU15"),
}

# The inner eye corners whose horizontal distance is the ruler of the centre rules.
RULER_LANDMARKS = (22, 25)


def au_index(name: str | int) -> int:
    """Position of an AU in ACTION_UNITS from "AU12", "au12", "12" or 12; a clear error otherwise."""
    text = str(name).strip().upper()
    number_text = text[2:] if text.startswith("AU") else text
    if number_text.isdigit() and int(number_text) in AU_NUMBERS:
        return AU_NUMBERS.index(int(number_text))
    raise ValueError(f"unknown action unit {name!r}; valid ones are: {', '.join(AU_NAMES)}")
