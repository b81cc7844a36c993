"""lacgan serve: the editing session behind the page (bad input as one-line messages, photos kept
apart, the preview's frame), and the page itself in a real headless Chromium driven by Playwright,
on the warp editor (no weights to load, so the server starts in seconds)."""
import base64
import importlib.util
import io
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from browser import browser_missing, chromium, move_slider, open_page, served
from conftest import REPO_ROOT
from lac_gan.common.errors import UserError
from lac_gan.data.image_io import ImageReadError
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product import serve
from lac_gan.product.editing import FaceEditor, NoFaceError

AU12 = 6


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def session():
    return serve.EditingSession(FaceEditor(load_synthesizer(editor="warp")), "the warp")


@pytest.fixture(scope="module")
def astronaut_held(session, astronaut):
    return session.hold(astronaut, "astronaut.png")


def test_an_edit_changes_the_chosen_au_within_its_reach_only(session, astronaut, astronaut_held):
    request = {"photo": astronaut_held["photo"], "face": 0, "targets": {"AU12": 0.5}}
    edited = decoded(session.edit_png(request))
    changed = np.any(edited != astronaut, axis=-1)
    reach = session.editor.au_reach(astronaut.shape, session.held(astronaut_held["photo"]).preview_faces[0])
    assert changed.sum() > 200 and not np.any(changed & ~reach[..., AU12])
    # The download is the same edit of the photo (here as large as its preview), and the regions
    # overlay shows exactly AU12's reach.
    np.testing.assert_array_equal(decoded(session.edit_png(request, full_resolution=True)), edited)
    overlay = decoded(session.regions_png({"photo": astronaut_held["photo"], "face": 0, "aus": ["AU12"]}))
    np.testing.assert_array_equal(overlay[..., 3] > 0, reach[..., AU12])
    # No slider set: the photo as it is.
    np.testing.assert_array_equal(decoded(session.edit_png({**request, "targets": {}})), astronaut)


def test_a_large_photo_is_edited_on_its_preview_and_downloaded_at_full_size(session, astronaut):
    large = np.asarray(Image.fromarray(astronaut).resize((1536, 1536), Image.Resampling.BICUBIC))
    held = session.hold(large, "large.png")
    assert (held["preview_width"], held["preview_height"]) == (serve.PREVIEW_SIDE, serve.PREVIEW_SIDE)
    request = {"photo": held["photo"], "face": 0, "targets": {"AU12": 0}}  # her smile undone (she already smiles: =1 moves nothing)
    preview = decoded(session.edit_png(request))
    full = decoded(session.edit_png(request, full_resolution=True))
    assert preview.shape == (1024, 1024, 3) and full.shape == large.shape
    original_preview = decoded(session.preview_png(held["photo"]))
    # The same lip corners moved in both frames: the changed pixels' centres agree once scaled.
    preview_changed = np.argwhere(np.any(preview != original_preview, axis=-1)).mean(axis=0)
    full_changed = np.argwhere(np.any(full != large, axis=-1)).mean(axis=0)
    np.testing.assert_allclose(preview_changed, (full_changed + 0.5) / 1.5 - 0.5, atol=3.0)
    box = held["faces"][0]  # in the preview's pixels: MTCNN's box of the photo, scaled
    assert box[0] < preview_changed[1] < box[2] and (box[1] + box[3]) / 2 < preview_changed[0] < box[3] + 40


def flat_png(size, mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode != "1" else 0).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("data, error, message", [
    (b"hello, not a photo", ImageReadError, "notes.txt: not a readable image .cannot identify image file 'notes.txt'"),
    (b"", serve.RequestError, "notes.txt: an empty file"),
    (b"\0" * (serve.MAX_UPLOAD_BYTES + 1), serve.RequestError, "notes.txt: 40.0 MB is over the 40 MB this page takes"),
    (flat_png((9000, 9000), "1"), ImageReadError, "notes.txt: 9000 x 9000 px is larger than the 50 megapixels"),
    (flat_png((300, 200)), NoFaceError, "notes.txt: no face found"),
])
def test_a_bad_upload_is_a_one_line_message(session, data, error, message):
    with pytest.raises(error, match=message) as raised:
        session.open_photo(data, "notes.txt")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("request_body, message", [
    ({"photo": "no-such-id", "face": 0}, "no longer held by the server"),
    ({"photo": None, "face": 0}, "no longer held by the server"),
    ({"face": 3}, "this photo has faces 0 to 0"),
    ({"face": "0"}, "this photo has faces 0 to 0"),
    ({"face": 0, "targets": {"AU12": 1.5}}, "AU12=1.5: the value must be a number from 0 .absent. to 1 .present."),
    ({"face": 0, "targets": {"AU3": 1}}, "unknown action unit 'AU3'; valid ones are: AU1"),
    ({"face": 0, "targets": ["AU12"]}, "targets: expected an object"),
])
def test_a_bad_edit_request_is_a_one_line_message(session, astronaut_held, request_body, message):
    with pytest.raises(serve.RequestError, match=message):
        session.edit_png({"photo": astronaut_held["photo"], **request_body})
    with pytest.raises(serve.RequestError, match="expected a JSON object"):
        session.edit_png(None)


def test_two_photos_edited_at_once_each_get_their_own_edit(session, astronaut):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    ids = [session.hold(photo, name)["photo"] for photo, name in ((astronaut, "a.png"), (mirrored, "b.png"))]
    requests = [{"photo": photo_id, "face": 0, "targets": {"AU12": 1, "AU1": 0.5}} for photo_id in ids]
    alone = [session.edit_png(request) for request in requests]
    together = [None, None]

    def edit(index):
        for _ in range(3):
            together[index] = session.edit_png(requests[index])
    threads = [threading.Thread(target=edit, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert together == alone and alone[0] != alone[1]


def test_the_oldest_photos_are_let_go_beyond_the_memory_budget(session, astronaut, monkeypatch):
    monkeypatch.setattr(serve, "HELD_PIXELS", 3 * astronaut.shape[0] * astronaut.shape[1])
    ids = [session.hold(astronaut, f"{n}.png")["photo"] for n in range(4)]
    with pytest.raises(serve.RequestError, match="no longer held"):
        session.held(ids[0])
    assert all(session.held(photo_id) for photo_id in ids[1:])


# --- the page in a real browser -------------------------------------------------------------------

@pytest.fixture(scope="module")
def server_url():
    try:
        serve.require_web_packages()
    except UserError as error:
        pytest.skip(str(error))
    with served("--editor", "warp") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    with chromium() as launched:
        yield launched


READ_IMAGE = """async (selector) => {
    const blob = await (await fetch(document.querySelector(selector).src)).blob();
    return await new Promise((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result.split(",")[1]);
        reader.readAsDataURL(blob);
    });
}"""


def shown(page, selector: str) -> np.ndarray:
    """The pixels of an <img> of the page, as the server sent them."""
    return decoded(base64.b64decode(page.evaluate(READ_IMAGE, selector)))


def test_the_page_edits_the_astronaut_in_a_browser(browser, server_url, astronaut):
    page = open_page(browser, server_url)
    page.click("#example")
    page.wait_for_selector("body[data-photo]", timeout=60_000)
    assert page.inner_text("#message") == "astronaut.png: 512 x 512 px, 1 face found"
    move_slider(page, "AU12", 0.75)
    page.wait_for_selector("#edited[data-targets*='\"AU12\"']", timeout=60_000)
    page.check("#show-regions")
    page.wait_for_selector("#regions:not([hidden])[data-aus='[\"AU12\"]']", timeout=60_000)
    original, edited, regions = (shown(page, selector) for selector in ("#original", "#edited", "#regions"))
    np.testing.assert_array_equal(original, astronaut)
    changed = np.any(edited != original, axis=-1)
    assert changed.sum() > 200, "the AU12 slider did not change the photo"
    assert not np.any(changed & (regions[..., 3] == 0)), "pixels outside AU12's region changed"
    x1, y1, x2, y2 = page.evaluate("state.photo.faces[0]")
    rows, cols = np.nonzero(changed)
    assert x1 < cols.mean() < x2 and (y1 + y2) / 2 < rows.mean(), "the change is not around the mouth"
    assert 0.5 < page.evaluate("state.targets.AU12") < 1.0

    page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
    page.wait_for_selector("#message.error >> text=notes.txt: not a readable image", timeout=30_000)
    page.close()


def test_two_browsers_editing_at_once_each_see_their_own_photo(browser, server_url, astronaut):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    pages = [open_page(browser, server_url) for _ in range(2)]
    for page, photo in zip(pages, (astronaut, mirrored)):
        page.set_input_files("#file", files=[{"name": "face.png", "mimeType": "image/png", "buffer": png(photo)}])
    for page in pages:
        page.wait_for_selector("body[data-photo]", timeout=60_000)
    for page in pages:  # both edits asked for before either is back
        move_slider(page, "AU12", 0.3)  # she smiles: 0.3 takes back most of it
    for page in pages:
        page.wait_for_selector("#edited[data-targets*='\"AU12\"']", timeout=60_000)
    for page, photo in zip(pages, (astronaut, mirrored)):
        edited = shown(page, "#edited")
        np.testing.assert_array_equal(shown(page, "#original"), photo)
        assert 200 < np.any(edited != photo, axis=-1).sum() < 0.2 * edited.shape[0] * edited.shape[1]
        page.close()


def test_the_command_refuses_a_port_in_use(server_url):
    port = server_url.rstrip("/").rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "lac_gan", "serve", "--editor", "warp", "--port", port],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (f"lacgan serve: error: --host 127.0.0.1 --port {port}: cannot "
                                                      "listen there (Address already in use)")


def test_without_the_serve_extra_the_command_says_how_to_install_it(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real_find_spec(name))
    with pytest.raises(UserError, match=r"missing here: uvicorn; install it with: pip install 'lacgan\[serve\]'"):
        serve.require_web_packages()
