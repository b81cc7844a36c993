"""Facts about BP4D that several parts of the project share (`../shared/spec/bp4d.md`)."""
from __future__ import annotations

# JAA-Net's subject-exclusive split of the 41 subjects into three parts (identical in ME-GraphAU).
JAANET_PARTS: dict[str, tuple[str, ...]] = {
    "part1": ("F001", "M007", "F018", "F008", "F002", "M004", "F010", "F009", "M012", "M001", "F016",
              "M014", "F023", "M008"),
    "part2": ("M011", "F003", "M010", "M002", "F005", "F022", "M018", "M017", "F013", "M016", "F020",
              "F011", "M013", "M005"),
    "part3": ("F007", "F015", "F006", "F019", "M006", "M009", "F012", "M003", "F004", "F021", "F017",
              "M015", "F014"),
}

# Fold k tests on one part and trains on the other two.
JAANET_FOLD_TEST_PART: dict[int, str] = {1: "part3", 2: "part2", 3: "part1"}

# Value of an AU occurrence cell that means "not coded".
UNKNOWN_LABEL = 9


def fold_parts(fold: int, parts: list[str] | tuple[str, ...] = tuple(JAANET_PARTS)) -> tuple[list[str], str]:
    """(training parts, test part) of a JAA-Net fold, e.g. fold 1 -> (['part1', 'part2'], 'part3')."""
    if fold not in JAANET_FOLD_TEST_PART:
        raise ValueError(f"fold must be one of {sorted(JAANET_FOLD_TEST_PART)}, got {fold}")
    test_part = JAANET_FOLD_TEST_PART[fold]
    return [p for p in parts if p != test_part], test_part
