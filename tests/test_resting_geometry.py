"""benchmarks/resting_geometry.py: the resting places behind au_movements' AU12 estimate, from a
`lacgan label` folder, and a clear error for a part the folder does not have."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT
from lac_gan.data import alignment
from lac_gan.data.au_table import AU_NAMES
from lac_gan.nets import movement

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import resting_geometry  # noqa: E402


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> Path:
    """A label folder of 4 faces (the canonical face, lip corners shifted) in part1: two without
    AU12, two with it; one more face whose landmarks file is missing."""
    root = tmp_path_factory.mktemp("labels")
    canonical = alignment.canonical_landmarks49(200)
    rows = []
    for frame, (lift, au12) in enumerate(((0.0, 0), (4.0, 0), (20.0, 1), (24.0, 1), (0.0, 0)), start=1):
        face = canonical.copy()
        face[[31, 37], 1] -= lift
        (root / "images" / "S0001" / "T1").mkdir(parents=True, exist_ok=True)
        (root / "images" / "S0001" / "T1" / f"{frame}.jpg").write_bytes(b"")
        if frame < 5:
            (root / "landmarks_49" / "S0001" / "T1").mkdir(parents=True, exist_ok=True)
            np.savetxt(root / "landmarks_49" / "S0001" / "T1" / f"{frame}.txt", face.reshape(1, -1), fmt="%.2f")
        rows.append(",".join(map(str, [frame] + [au12 if au == "AU12" else 0 for au in AU_NAMES])))
    (root / "AU_OCC").mkdir()
    header = ",".join(["0"] + [au[2:] for au in AU_NAMES])
    (root / "AU_OCC" / "S0001_T1.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "folds.json").write_text(json.dumps({"part1": ["S0001"], "part2": [], "part3": []}))
    return root


def test_resting_places_are_the_mean_and_sd_of_the_faces_without_the_au(labels):
    landmarks, table = resting_geometry.labelled_faces(labels, ["part1"], ".*", "--train_parts")
    assert landmarks.shape == (4, 49, 2) and table["AU12"].tolist() == [0, 0, 1, 1]
    corner = movement.frame_places(landmarks[:2], [31]).numpy()[:, 0]
    rest = {r.landmark: r for r in resting_geometry.resting_places(landmarks, table)["AU12"]}
    assert set(rest) == {31, 37}
    assert rest[31].up == pytest.approx(corner[:, 1].mean(), abs=1e-4)
    assert rest[31].up_sd == pytest.approx(corner[:, 1].std(), abs=1e-4)
    assert rest[31].out == pytest.approx(corner[:, 0].mean(), abs=1e-4)


def test_a_part_the_folder_lacks_is_one_line_naming_the_flag(labels):
    result = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "resting_geometry.py"), "--labels",
                             str(labels), "--train_parts", "part9"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"resting_geometry.py: error: --train_parts part9: {labels} has the parts part1, part2, part3")
