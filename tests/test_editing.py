"""Editing photos: AU request parsing, the edit itself on a real face, and the command's errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builders import write_untrained_checkpoint
from conftest import REPO_ROOT
from lac_gan.common.errors import UsageError
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.image_io import read_rgb
from lac_gan.nets import figures, movement
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, NoFaceError, parse_au_targets, photo_pairs


def test_parse_au_targets():
    assert parse_au_targets("AU12=1,AU6=1", "AU4") == {6: 1, 3: 1, 2: 0}
    assert parse_au_targets("au12, 15=0") == {6: 1, 8: 0}
    assert parse_au_targets(None, "AU24") == {11: 0}
    assert parse_au_targets("AU12=0.5,AU6=.25,AU1=1.0") == {6: 0.5, 3: 0.25, 0: 1.0}


@pytest.mark.parametrize("set_spec, unset_spec, message", [
    ("AU3=1", None, "valid ones are: AU1, AU2"),
    ("AU12=2", None, "AU12=2: the value must be a number from 0 .absent. to 1 .present."),
    ("AU12=-0.1", None, "from 0 .absent. to 1 .present."),
    ("AU12=nan", None, "from 0 .absent. to 1 .present."),
    ("AU12=half", None, "AU12=half: the value must be a number"),
    ("AU12=1", "AU12", "more than once"),
    (None, None, "nothing to edit"),
])
def test_parse_au_targets_errors(set_spec, unset_spec, message):
    with pytest.raises(UsageError, match=message):
        parse_au_targets(set_spec, unset_spec)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_untrained_checkpoint(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def editor(checkpoint):
    return FaceEditor(load_synthesizer(str(checkpoint)))


def test_edit_changes_only_the_chosen_au_regions_of_the_face(editor, astronaut):
    edited = editor.edit(astronaut, parse_au_targets("AU12=1,AU6=1", "AU4"))
    assert edited.shape == astronaut.shape and edited.dtype == np.uint8
    changed = np.any(edited != astronaut, axis=-1)
    assert changed.sum() > 100
    face = editor.detector.detect(astronaut).box  # x1, y1, x2, y2
    rows, cols = np.nonzero(changed)
    assert face[0] <= cols.min() and cols.max() <= face[2] and face[1] <= rows.min() and rows.max() <= face[3]
    # The background (here: everything more than 10 px outside the face box) is untouched.
    outside = np.ones(changed.shape, bool)
    outside[int(face[1]) - 10:int(face[3]) + 10, int(face[0]) - 10:int(face[2]) + 10] = False
    np.testing.assert_array_equal(edited[outside], astronaut[outside])


@pytest.mark.parametrize("au", ["AU1", "AU12"])
def test_an_intensity_moves_the_warp_by_that_share_of_its_movement(astronaut, au):
    """--set AUx=0.5 reaches the editor, half-way between =0 and =1: for AU1, half the movement of
    =1 (a photo's own AU1 is not estimated: =0 undoes a typical one); for AU12, which the astronaut
    already shows (her smile, s from her lip corners), the request 0.5 - s, an undo of 1.4 x that
    when below 0 (movement.MEASURED_UNDO_FACTOR, at most -1), as =0's request is."""
    editor = FaceEditor(load_synthesizer(editor="warp"))
    face = editor.alignments(astronaut, all_faces=False)[0]
    full, half, none = (editor.plan(astronaut, face, parse_au_targets(f"{au}={value}")).moves.numpy()
                        for value in (1, 0.5, 0))
    assert np.abs(full - none).max() > 1.0
    if au == "AU1":
        np.testing.assert_allclose(half, 0.5 * full, atol=1e-6)
    else:
        shown = float(np.clip(movement.source_strength(face.landmarks[None])[0, AU_NAMES.index(au)], 0, 1))
        assert shown > 0.5  # she smiles: =0.5 asks for an undo

        def asked(target):
            return max(movement.MEASURED_UNDO_FACTOR * (target - shown), -1.0)
        np.testing.assert_allclose(half, asked(0.5) / asked(0.0) * none, atol=1e-4)


def test_au_reach_holds_every_pixel_an_edit_of_the_au_changes(astronaut):
    """What `lacgan serve` shows as the regions an edit may touch: each AU's edit stays inside."""
    editor = FaceEditor(load_synthesizer(editor="warp"))
    face = editor.alignments(astronaut, all_faces=False)[0]
    reach = editor.au_reach(astronaut.shape, face)
    for index in range(len(AU_NAMES)):
        changed = {target: np.any(editor.edit(astronaut, {index: target}, alignments=[face]) != astronaut, axis=-1)
                   for target in (1.0, 0.0)}
        # Her smile is already whole (AU12=1 moves nothing); every AU changes the photo one way.
        assert max(c.sum() for c in changed.values()) > 100, AU_NAMES[index]
        for target, pixels in changed.items():
            assert not np.any(pixels & ~reach[..., index]), (AU_NAMES[index], target)
    assert reach.sum() < 2 * 12 * 12_000  # no more than the kernels' reach (about 4,000-12,000 px an AU here)


def test_edit_all_faces_of_a_group_photo(editor, shared_dir):
    photo = read_rgb(shared_dir / "fixtures" / "faces" / "multi_face.jpg")
    largest = np.any(editor.edit(photo, {6: 1}) != photo, axis=-1).sum()
    everyone = np.any(editor.edit(photo, {6: 1}, all_faces=True) != photo, axis=-1).sum()
    assert everyone > 2 * largest > 0


def test_an_alignment_for_another_crop_size_is_refused(editor, astronaut):
    """Alignments made by an editor of another crop size (the warp's 200 px) would crop the wrong
    part of the photo for this one (the untrained checkpoint's): refused, naming both sizes."""
    warp_faces = FaceEditor(load_synthesizer(editor="warp")).alignments(astronaut, all_faces=False)
    with pytest.raises(ValueError, match=f"a 200 px crop given to a {editor.size} px editor"):
        editor.edit(astronaut, {6: 1}, alignments=warp_faces)


def test_edit_without_a_face_is_a_clear_error(editor):
    with pytest.raises(NoFaceError, match="grey.png: no face found"):
        editor.edit(np.full((200, 200, 3), 128, np.uint8), {6: 1}, source="grey.png")


def run_edit(*args):
    return subprocess.run([sys.executable, "-m", "lac_gan", "edit", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_edit_command_photo_in_photo_out_and_folder(checkpoint, astronaut, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "astronaut.png")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(photos / "wall.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")

    single = run_edit("--checkpoint", checkpoint, "--image", photos / "astronaut.png", "--set", "AU12=0.5",
                      "--out", tmp_path / "out.png")
    assert single.returncode == 0, single.stderr
    assert read_rgb(tmp_path / "out.png").shape == astronaut.shape

    folder = run_edit("--checkpoint", checkpoint, "--image", photos, "--set", "AU12", "--out", tmp_path / "edited",
                      "--figures", tmp_path / "figures")
    assert folder.returncode == 1  # two of three photos could not be edited, and it says which
    assert "wall.png: no face found" in folder.stderr
    assert "broken.jpg: not a readable image" in folder.stderr
    assert (tmp_path / "edited" / "astronaut.png").is_file()
    assert not (tmp_path / "edited" / "wall.png").exists()
    # Fig. 3 / Fig. 5 of the one face found: 13 columns (input + 12 AUs) in 2 rows; 4 columns in 1 row.
    fig3, fig5 = (read_rgb(tmp_path / "figures" / name) for name in ("fig3_single_aus.png", "fig5_combinations.png"))
    size = load_synthesizer(str(checkpoint)).config.image_size
    assert size < fig3.shape[0] - fig5.shape[0] <= size + figures.PADDING + 2  # one row more (headers differ)
    assert fig3.shape[1] > 13 * size and fig5.shape[1] > 4 * size


def test_edit_command_errors(checkpoint, tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    unknown_au = run_edit("--checkpoint", checkpoint, "--image", tmp_path / "a.png", "--set", "AU99=1",
                          "--out", tmp_path / "o.png")
    assert unknown_au.returncode == 2 and "valid ones are: AU1, AU2, AU4" in unknown_au.stderr
    no_checkpoint = run_edit("--checkpoint", tmp_path / "nowhere", "--image", tmp_path / "a.png", "--set", "AU6",
                             "--out", tmp_path / "o.png")
    assert no_checkpoint.returncode == 2 and "nowhere" in no_checkpoint.stderr
    missing_image = run_edit("--checkpoint", checkpoint, "--image", tmp_path / "b.png", "--set", "AU6",
                             "--out", tmp_path / "o.png")
    assert missing_image.returncode == 2 and "b.png: no such file" in missing_image.stderr
    figures_on_a_file = run_edit("--checkpoint", checkpoint, "--image", tmp_path / "a.png", "--set", "AU6",
                                 "--out", tmp_path / "o.png", "--figures", tmp_path / "a.png")
    assert figures_on_a_file.returncode == 2 and "--figures" in figures_on_a_file.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("image, out", [
    ("me.png", "me.png"), ("me.png", "./me.png"), ("me.png", "photos/../me.png"), ("me.png", "link.png"),
    ("link.png", "me.png"), ("photos", "photos"), ("photos", "photos/."), ("photos", "./linked_photos"),
    ("photos", "edited"),  # edited/a.png is a symlink to photos/a.png
])
def test_photo_pairs_refuses_an_output_that_is_an_input_photo(tmp_path, monkeypatch, image, out):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save("me.png")
    Path("link.png").symlink_to("me.png")
    Path("photos").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(Path("photos") / name)
    Path("linked_photos").symlink_to("photos")
    Path("edited").mkdir()
    (Path("edited") / "a.png").symlink_to(tmp_path / "photos" / "a.png")
    with pytest.raises(UsageError, match=rf"^--out {re.escape(str(Path(out)))}.*: is the (input photo|--image folder) .*"
                                         "would replace the original"):
        photo_pairs(image, out)


def test_photo_pairs_keeps_other_outputs(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "a.png")
    assert photo_pairs(photos / "a.png", photos / "a_edited.png") == [(photos / "a.png", photos / "a_edited.png")]
    assert photo_pairs(photos, photos / "edited") == [(photos / "a.png", photos / "edited" / "a.png")]
    assert photo_pairs(photos, tmp_path / "edited") == [(photos / "a.png", tmp_path / "edited" / "a.png")]


def test_edit_command_refuses_to_replace_the_photo_before_looking_for_the_checkpoint(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "me.png")
    original = (tmp_path / "me.png").read_bytes()
    result = subprocess.run([sys.executable, "-m", "lac_gan", "edit", "--checkpoint", "nowhere", "--image", "me.png",
                             "--set", "AU12", "--out", "./me.png"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == ["lacgan edit: error: --out me.png: is the input photo me.png; the edit would replace the "
                      "original: choose another --out"], result.stderr[-3000:]
    assert (tmp_path / "me.png").read_bytes() == original
