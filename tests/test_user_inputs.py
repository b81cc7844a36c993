"""What users meet (issue 34): empty paths, a photo file name for a folder's output, FIFOs and
subfolders among photos, phone photos stored on their side (EXIF orientation), the message when no
photo of a folder could be edited, an AU the model never learned, and Ctrl-C."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT
from lac_gan.common.errors import UsageError, check_output_dir
from lac_gan.data.image_io import read_rgb
from lac_gan.data.landmarks import IBUG68_TO_49
from lac_gan.product.editing import photo_pairs
from tfrecords_tools import labeller
from tfrecords_tools.openface_runs import readable_photo

FAKE_OPENFACE = REPO_ROOT / "tests" / "fake_openface"


def save(path, shape=(8, 8, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(shape, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("image, out", [("", "out.png"), ("a.png", ""), ("  ", "out")])
def test_an_empty_path_is_an_error_not_the_working_directory(tmp_path, monkeypatch, image, out):
    monkeypatch.chdir(tmp_path)
    save(tmp_path / "a.png")
    flag = "--image" if not image.strip() else "--out"
    with pytest.raises(UsageError, match=rf"^{flag}: an empty path"):
        photo_pairs(image, out)
    with pytest.raises(UsageError, match="^--out_dir: an empty path"):
        check_output_dir("--out_dir", "")


def test_a_folder_of_photos_with_a_photo_file_name_out_is_an_error(tmp_path):
    save(tmp_path / "photos" / "a.png")
    with pytest.raises(UsageError, match=r"--out .*x\.png: a photo file name, but --image .*photos is a folder"):
        photo_pairs(tmp_path / "photos", tmp_path / "out" / "x.png")
    assert not (tmp_path / "out").exists()


def test_only_regular_files_are_read_and_subfolders_are_counted(tmp_path, caplog):
    photos = tmp_path / "photos"
    save(photos / "a.png")
    os.mkfifo(photos / "x.jpg")  # reading it would block forever
    save(photos / "trip" / "b.png")
    with caplog.at_level("WARNING"):
        pairs = photo_pairs(photos, tmp_path / "edited")
    assert pairs == [(photos / "a.png", tmp_path / "edited" / "a.png")]
    assert "1 subfolder(s) not entered" in caplog.text


@pytest.fixture()
def phone_photo(tmp_path, astronaut):
    """The astronaut (cut to 512 x 400, portrait) stored on its side with EXIF orientation 6, as a
    phone writes it: viewers turn it 90 degrees clockwise to show it upright."""
    upright = astronaut[:, 56:456]
    stored = Image.fromarray(np.rot90(upright, k=1))  # 90 degrees counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    return path, upright


def test_a_phone_photo_is_read_upright(phone_photo):
    path, upright = phone_photo
    image = read_rgb(path)
    assert image.shape == upright.shape
    assert np.abs(image.astype(int) - upright).mean() < 4  # JPEG's loss only
    assert readable_photo(str(path)) == ((400, 512), 6)


def test_a_phone_photo_is_edited_upright(phone_photo, tmp_path):
    from lac_gan.nets.synthesis import load_synthesizer
    from lac_gan.product.editing import FaceEditor
    path, upright = phone_photo
    editor = FaceEditor(load_synthesizer(editor="warp"))
    photo = read_rgb(path)
    assert editor.alignments(photo, all_faces=False)  # "no face found" when read as stored
    assert editor.edit(photo, {6: 1}).shape == upright.shape


def test_a_phone_photo_is_labelled_upright(phone_photo, tmp_path):
    """OpenFace reads pixels as stored: the labeller hands it an upright copy, so the landmarks it
    keeps are those of the upright photo (the stand-in OpenFace puts a face at the image's centre,
    scaled by its width: stored sideways, both would be wrong)."""
    sys.path.insert(0, str(FAKE_OPENFACE))
    import fake_faces
    path, _ = phone_photo
    (tmp_path / "people" / "Ann").mkdir(parents=True)
    path.rename(tmp_path / "people" / "Ann" / path.name)
    manifest = labeller.label(str(tmp_path / "people"), str(tmp_path / "out"), str(FAKE_OPENFACE / "FeatureExtraction"))
    assert manifest["counts"]["labelled"] == 1
    points = np.loadtxt(tmp_path / "out" / "landmarks_49" / "S0001" / "T1" / "1.txt").reshape(49, 2)
    upright = np.array(fake_faces.landmarks(200, 256, 20)).reshape(2, 68).T[list(IBUG68_TO_49)]
    np.testing.assert_allclose(points, upright + 1.0, atol=0.01)  # OpenFace 0-based -> 1-based files


def test_no_photo_edited_says_none_was_written(tmp_path):
    photos = tmp_path / "photos"
    for name in ("wall.png", "floor.png"):
        save(photos / name, (120, 160, 3))
    result = subprocess.run([sys.executable, "-m", "lac_gan", "edit", "--editor", "warp", "--image", str(photos),
                             "--set", "AU12", "--out", str(tmp_path / "edited")], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "2 of 2 photos could not be edited (each is named above); none was written" in result.stderr


def interrupted(command: list[str], started, timeout: float = 240.0) -> subprocess.CompletedProcess:
    """Runs `python -m lac_gan COMMAND`, sends SIGINT (Ctrl-C) once `started()` is true, and waits."""
    import signal
    import time
    # As from a terminal: a test runner started in the background inherits SIGINT ignored (POSIX, for
    # `cmd &` in a shell without job control), and so would the command, which then never sees it.
    process = subprocess.Popen([sys.executable, "-m", "lac_gan", *command], cwd=REPO_ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not started() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # Which side failed, when one does: the command ending before the Ctrl-C could reach it is this
    # test's timing, not the command's handling of it.
    running_when_signalled = process.poll() is None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert running_when_signalled, f"the command ended before the interrupt was sent: {err[-1500:]}"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_ctrl_c_during_an_edit_is_one_line_and_exit_130(tmp_path, astronaut):
    photos, out = tmp_path / "photos", tmp_path / "edited"
    photos.mkdir()
    for number in range(120):  # 0.25 s each with the warp: half a minute to catch it editing
        Image.fromarray(astronaut).save(photos / f"{number:03d}.png")
    result = interrupted(["edit", "--editor", "warp", "--image", str(photos), "--set", "AU12", "--out", str(out)],
                         lambda: out.is_dir() and any(out.glob("*.png")))
    assert result.returncode == 130, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "lacgan edit: interrupted; the photos already edited are written; the others are not")
    assert not [p for p in out.iterdir() if "partial" in p.name]


def test_an_au_the_model_lists_as_untrained_keeps_the_photos_pixels(tmp_path, astronaut):
    """A CARG model whose config.json lists AU7 and AU24 as untrained: `--set AU24` and `--unset AU7`
    changed 890 and 1,141 pixels while the tool said the region keeps them; now not one."""
    from builders import write_untrained_checkpoint
    from lac_gan.data.au_table import AU_NAMES
    from lac_gan.nets import config as config_lib
    from lac_gan.nets.synthesis import load_synthesizer
    from lac_gan.product.editing import FaceEditor
    checkpoint = write_untrained_checkpoint(tmp_path / "run", config_lib.tiny().replace(untrained_aus=("AU7", "AU24")))
    editor = FaceEditor(load_synthesizer(str(checkpoint)))
    for au, value in (("AU24", 1), ("AU7", 0)):
        np.testing.assert_array_equal(editor.edit(astronaut, {AU_NAMES.index(au): value}), astronaut)
    assert np.any(editor.edit(astronaut, {AU_NAMES.index("AU12"): 1}) != astronaut)


def test_a_resumed_runs_rate_counts_only_this_runs_work(caplog, monkeypatch):
    """A resumed `label` of 10,000 photos, 9,990 done before, showed 4,405,285.86/s."""
    from lac_gan.common import progress as progress_lib
    clock = iter([100.0, 102.0])
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: next(clock))
    progress = progress_lib.Progress("label", 10_000, already_done=9_990)
    with caplog.at_level("INFO"):
        progress.update(10)  # the last 10 photos in 2 s
    assert "label: 10000/10000 (5.00/s, ETA 0:00:00)" in caplog.text


def test_an_edit_keeps_the_photos_alpha_and_colour_profile(tmp_path, astronaut):
    """An RGBA PNG came back RGB, and a JPEG's ICC profile was dropped."""
    from PIL import ImageCms
    alpha = np.full(astronaut.shape[:2], 255, np.uint8)
    alpha[:40] = 0  # a transparent band
    rgba = Image.fromarray(np.dstack([astronaut, alpha]))
    (tmp_path / "photos").mkdir()
    rgba.save(tmp_path / "photos" / "a.png")
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(astronaut).save(tmp_path / "photos" / "b.jpg", icc_profile=profile, quality=95)
    result = subprocess.run([sys.executable, "-m", "lac_gan", "edit", "--editor", "warp", "--image",
                             str(tmp_path / "photos"), "--set", "AU12", "--out", str(tmp_path / "edited")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(tmp_path / "edited" / "a.png") as edited:
        assert edited.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(edited)[..., 3], alpha)
    with Image.open(tmp_path / "edited" / "b.jpg") as edited:
        assert edited.info.get("icc_profile") == profile


def test_a_config_that_does_not_fit_its_checkpoint_is_one_line_alone(tmp_path):
    """The right message was line 2 of 370, the rest TensorFlow's `Value in checkpoint could not be
    found` warnings about the half-restored checkpoint."""
    import json
    from builders import write_untrained_checkpoint
    logdir = write_untrained_checkpoint(tmp_path / "run")
    values = json.loads((logdir / "config.json").read_text())
    values["z_dim"] *= 2
    (logdir / "config.json").write_text(json.dumps(values))
    quiet = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the default: TF's lines hidden
    result = subprocess.run([sys.executable, "-m", "lac_gan", "export", "--checkpoint", str(logdir), "--out",
                             str(tmp_path / "saved")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            env=quiet)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "per-AU layers" not in line]
    assert len(lines) == 1 and "ckpt-1 does not fit" in lines[0], result.stderr[-3000:]
