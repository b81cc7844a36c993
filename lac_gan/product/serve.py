"""`lacgan serve`: a local web page that edits the AUs of a photo with sliders (issue 33).

Built on Starlette, the small ASGI toolkit FastAPI is made of, served by uvicorn: the `serve` extra
(`pip install -e .[serve]`), imported only by this module. The page is one hand-written HTML file
with its script (lac_gan/resources/serve/page.html), read once when the app is made; the routes
below are all the server answers, and none of them takes a path from the request to the file system.

- POST /api/photo (the photo's bytes as the body) or /api/example (skimage's astronaut): the photo is
  read (EXIF orientation, at most MAX_UPLOAD_BYTES and MAX_PIXELS), its faces are found and fitted
  once, and it is held in memory under a random id, which only the browser that sent it knows: two
  browsers editing at once each edit their own photo. Answer: the id, the sizes, the face boxes.
- GET /api/preview?photo=ID: the photo as the page shows it (PNG, at most PREVIEW_SIDE px a side).
- POST /api/edit {photo, face, targets: {"AU12": 0.5, ...}}: the chosen face edited on the preview
  (PNG), what the sliders show; /api/download the same at the photo's full resolution.
- POST /api/regions {photo, face, aus}: where an edit of those AUs may change the preview
  (FaceEditor.au_reach), as a transparent PNG to lay over it.

Bad input (not an image, no face, too large, an unknown photo id, a target out of range) is a
one-line JSON `{"error": ...}` with a 4xx status, which the page shows; a fault of ours is logged
here with its traceback and shown on the page as one line. The editor runs one request at a time
(its TensorFlow models are shared), in a worker thread, so the server keeps answering meanwhile.
"""
from __future__ import annotations

import importlib.util
import io
import secrets
import socket
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources

import numpy as np
from absl import logging
from PIL import Image

from lac_gan.common.errors import UserError
from lac_gan.data.au_table import ACTION_UNITS, AU_NAMES, EXPRESSIONS, au_index
from lac_gan.data.image_io import read_rgb
from lac_gan.product.editing import Alignment, FaceEditor, NoFaceError, au_target

MAX_UPLOAD_BYTES = 40 * 2 ** 20
MAX_PIXELS = 50_000_000  # an 8,000 x 6,000 px photo; larger ones are refused with their size
PREVIEW_SIDE = 1024  # the sliders edit a copy this large at most: the edit stays interactive
HELD_PIXELS = 200_000_000  # photos held for all browsers together (about 0.6 GB); the oldest go first
REGION_COLOURS = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
                           (0, 128, 128), (170, 110, 40)], np.uint8)  # one per AU, in AU_NAMES order


class RequestError(UserError):
    """A request the page's user can fix: its message is shown on the page, with an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class HeldPhoto:
    """A photo being edited: at full resolution (the download) and as the page shows it (the
    sliders' edits), with the faces' alignments in both frames."""
    name: str
    photo: np.ndarray
    preview: np.ndarray
    faces: list[Alignment]
    preview_faces: list[Alignment]
    preview_png: bytes

    @property
    def pixels(self) -> int:
        return self.photo.shape[0] * self.photo.shape[1]


def preview_of(photo: np.ndarray, faces: list[Alignment]) -> tuple[np.ndarray, list[Alignment]]:
    """The photo at most PREVIEW_SIDE px a side (itself when smaller) and the faces' alignments in
    its frame: each photo -> crop transform composed with the preview's pixel -> photo pixel map."""
    height, width = photo.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(height, width))
    if scale == 1.0:
        return photo, faces
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    preview = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))
    sx, sy = width / size[0], height / size[1]
    # Pixel centres: preview pixel x covers photo x' = (x + 0.5) sx - 0.5, as Pillow resizes.
    to_photo = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return preview, [Alignment(face.to_crop @ to_photo, face.maps, face.landmarks) for face in faces]


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of uint8 RGB or RGBA, quickly compressed (it goes to a browser on the same machine)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class EditingSession:
    """The app's state and work, without the web framework: the held photos (an id each, the oldest
    dropped beyond HELD_PIXELS) and the edits. Thread-safe: the editor runs one call at a time."""

    def __init__(self, editor: FaceEditor, description: str):
        self.editor = editor
        self.description = description
        self._photos: OrderedDict[str, HeldPhoto] = OrderedDict()
        self._photos_lock = threading.Lock()
        self._editor_lock = threading.Lock()

    def info(self) -> dict:
        """What the page builds its controls from."""
        return {"editor": self.description, "max_upload_bytes": MAX_UPLOAD_BYTES, "max_pixels": MAX_PIXELS,
                "aus": [{"name": au.name, "facs_name": au.facs_name, "region": au.region} for au in ACTION_UNITS],
                "expressions": [{"name": name, "aus": list(aus)} for name, aus in EXPRESSIONS.items()],
                "untrained": list(self.editor.synthesizer.untrained_aus),
                "region_colours": ["#%02x%02x%02x" % tuple(colour) for colour in REGION_COLOURS]}

    def open_photo(self, data: bytes, name: str) -> dict:
        """Read, find and fit the faces of an uploaded photo and hold it; the page's answer."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise RequestError(f"{name}: {len(data) / 2 ** 20:.1f} MB is over the {MAX_UPLOAD_BYTES // 2 ** 20} MB "
                               "this page takes", status=413)
        if not data:
            raise RequestError(f"{name}: an empty file")
        photo = read_rgb(io.BytesIO(data), name=name, max_pixels=MAX_PIXELS)
        return self.hold(photo, name)

    def hold(self, photo: np.ndarray, name: str) -> dict:
        """Find and fit the photo's faces (largest first), hold it under a new id; the page's answer."""
        with self._editor_lock:
            found = self.editor.faces(photo, all_faces=True)
            faces = [self.editor.alignment_of(photo, face) for face in found]
        if not faces:
            raise NoFaceError(f"{name}: no face found (MTCNN); open a photo with a face in it")
        preview, preview_faces = preview_of(photo, faces)
        held = HeldPhoto(name, photo, preview, faces, preview_faces, png_bytes(preview))
        scale = preview.shape[1] / photo.shape[1]
        boxes = [[round(float(v) * scale, 1) for v in face.box] for face in found]  # MTCNN's, x1, y1, x2, y2
        photo_id = secrets.token_urlsafe(16)
        with self._photos_lock:
            self._photos[photo_id] = held
            while sum(p.pixels for p in self._photos.values()) > HELD_PIXELS and len(self._photos) > 1:
                self._photos.popitem(last=False)
        return {"photo": photo_id, "name": name, "width": photo.shape[1], "height": photo.shape[0],
                "preview_width": preview.shape[1], "preview_height": preview.shape[0], "faces": boxes}

    def held(self, photo_id: object) -> HeldPhoto:
        """The photo held under `photo_id`, now the most recently used; a RequestError (404) when it
        is not held (never was, or let go for newer ones)."""
        with self._photos_lock:
            held = self._photos.get(photo_id) if isinstance(photo_id, str) else None
            if held is None:
                raise RequestError("this photo is no longer held by the server (it keeps the most recent ones, "
                                   "and nothing across a restart): open it again", status=404)
            self._photos.move_to_end(photo_id)
            return held

    def preview_png(self, photo_id: object) -> bytes:
        """The photo as the page shows it."""
        return self.held(photo_id).preview_png

    def edit_png(self, request: dict, full_resolution: bool = False) -> bytes:
        """The request's face edited to its targets: on the preview, or on the photo itself."""
        held, face = self._face_of(request)
        targets = targets_of(request.get("targets"))
        photo, alignment = ((held.photo, held.faces[face]) if full_resolution
                            else (held.preview, held.preview_faces[face]))
        if not targets:
            return png_bytes(photo) if full_resolution else held.preview_png
        with self._editor_lock:
            edited = self.editor.edit(photo, targets, source=held.name, alignments=[alignment])
        return png_bytes(edited)

    def regions_png(self, request: dict) -> bytes:
        """An RGBA overlay of the preview: each requested AU's reach in its colour, half opaque."""
        held, face = self._face_of(request)
        aus = request.get("aus") or list(AU_NAMES)
        if not isinstance(aus, list):
            raise RequestError("aus: expected a list of AU names")
        indices = [au_index_of(name) for name in aus]
        reach = self.editor.au_reach(held.preview.shape, held.preview_faces[face])
        overlay = np.zeros((*held.preview.shape[:2], 4), np.uint8)
        for index in indices:
            inside = reach[..., index]
            overlay[inside, :3] = REGION_COLOURS[index]
            overlay[inside, 3] = 110
        return png_bytes(overlay)

    def _face_of(self, request: object) -> tuple[HeldPhoto, int]:
        """The held photo and face index a request names; a RequestError saying what is wrong."""
        if not isinstance(request, dict):
            raise RequestError("expected a JSON object {photo, face, ...}")
        held = self.held(request.get("photo"))
        face = request.get("face", 0)
        if not isinstance(face, int) or isinstance(face, bool) or not 0 <= face < len(held.faces):
            raise RequestError(f"face {face!r}: this photo has faces 0 to {len(held.faces) - 1}")
        return held, face


def au_index_of(name: object) -> int:
    """An AU's index from its name, a RequestError listing the valid ones otherwise."""
    try:
        return au_index(str(name))
    except ValueError as error:
        raise RequestError(str(error)) from error


def targets_of(targets: object) -> dict[int, float]:
    """{"AU12": 0.5, ...} from the page -> {AU index: target} (editing.au_target's rule)."""
    if targets is None:
        return {}
    if not isinstance(targets, dict):
        raise RequestError("targets: expected an object such as {\"AU12\": 0.5}")
    parsed = {}
    for name, value in targets.items():
        try:
            index, target = au_target(str(name), value)
        except ValueError as error:
            raise RequestError(str(error)) from error
        parsed[index] = target
    return parsed


WEB_PACKAGES = ("starlette", "uvicorn")


def require_web_packages() -> None:
    """A UserError saying how to install the serve extra when its packages are missing."""
    missing = [name for name in WEB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"lacgan serve needs the serve extra ({', '.join(WEB_PACKAGES)}), missing here: "
                        f"{', '.join(missing)}; install it with: pip install 'lacgan[serve]' (from a checkout: "
                        "pip install -e '.[serve]')")


def page_html() -> str:
    return (resources.files("lac_gan") / "resources" / "serve" / "page.html").read_text(encoding="utf-8")


def make_app(session: EditingSession):
    """The Starlette app around a session: the page and the routes of the module docstring only."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    page = page_html()

    async def answer(work, *args, media_type="image/png", headers=None):
        """Run `work` in a worker thread; bad input as {"error"} with its status, a fault of ours
        logged with its traceback and shown as one line."""
        try:
            result = await run_in_threadpool(work, *args)
        except RequestError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        except UserError as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        except Exception as error:  # noqa: BLE001 - a bug of ours: logged here, one line on the page
            logging.exception("lacgan serve: the request failed")
            return JSONResponse({"error": f"the server failed on this request ({type(error).__name__}: {error}); "
                                          "its log has the details"}, status_code=500)
        if isinstance(result, dict):
            return JSONResponse(result)
        return Response(result, media_type=media_type, headers=headers)

    async def json_body(request):
        try:
            return await request.json()
        except (ValueError, ClientDisconnect):
            return None

    async def index(request):
        return HTMLResponse(page)

    async def info(request):
        return JSONResponse(session.info())

    async def open_photo(request):
        name = urllib.parse.unquote(request.headers.get("x-file-name", ""))[:200] or "photo"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:  # refused before it is read
            return JSONResponse({"error": f"{name}: {int(declared) / 2 ** 20:.1f} MB is over the "
                                          f"{MAX_UPLOAD_BYTES // 2 ** 20} MB this page takes"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:
                break
        return await answer(session.open_photo, bytes(body), name)

    async def example(request):
        from skimage import data
        return await answer(session.hold, data.astronaut(), "astronaut.png")

    async def preview(request):
        return await answer(session.preview_png, request.query_params.get("photo"))

    async def edit(request):
        return await answer(session.edit_png, await json_body(request))

    async def download(request):
        body = await json_body(request)
        return await answer(session.edit_png, body, True,
                            headers={"Content-Disposition": 'attachment; filename="edited.png"'})

    async def regions(request):
        return await answer(session.regions_png, await json_body(request))

    return Starlette(routes=[
        Route("/", index), Route("/api/info", info), Route("/api/photo", open_photo, methods=["POST"]),
        Route("/api/example", example, methods=["POST"]), Route("/api/preview", preview),
        Route("/api/edit", edit, methods=["POST"]), Route("/api/download", download, methods=["POST"]),
        Route("/api/regions", regions, methods=["POST"]),
    ])


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: a free one, which the printed URL names); the
    OSError of an address in use or not of this machine."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


def serve(session: EditingSession, sock: socket.socket) -> None:
    """Serve the page on a `listening_socket` until interrupted (Ctrl-C), printing its URL first."""
    import uvicorn
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    print(f"lacgan serve: open http://{shown_host}:{port}/ in a browser ({session.description}; Ctrl-C to stop)",
          flush=True)
    config = uvicorn.Config(make_app(session), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
