"""Seconds per photo of `lacgan edit` on this machine (face detection, landmarks, alignment, the
editor, drawing the edit into the photo).

    PYTHONPATH=.:tests python benchmarks/edit_photo.py [--preset paper | --editor bundled | --editor warp] [--repeats 5] \
        [--set AU12=1,AU6=1 --unset AU4]

With --preset, an untrained generator of the preset's size (the speed does not depend on the
weights); --editor bundled: the model that ships, as `lacgan edit` uses it with no --checkpoint;
--editor warp: the fixed warp. The photo: skimage's astronaut (512 x 512).
"""
import argparse
import tempfile
import time
from pathlib import Path

from builders import write_untrained_checkpoint
from skimage import data

from lac_gan.nets.config import preset
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, parse_au_targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--preset", default="paper")
    chosen.add_argument("--editor", choices=["bundled", "warp"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", default="AU12=1,AU6=1", help="the AUs switched, as `lacgan edit --set`")
    parser.add_argument("--unset", default="AU4", help="as `lacgan edit --unset`")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.editor:
        editor = FaceEditor(load_synthesizer(editor=None if args.editor == "bundled" else args.editor))
    else:
        logdir = write_untrained_checkpoint(Path(tempfile.mkdtemp()), preset(args.preset))
        editor = FaceEditor(load_synthesizer(str(logdir)))
    print(f"load {args.editor or args.preset} + face detector: {time.perf_counter() - started:.2f} s")
    photo, targets = data.astronaut(), parse_au_targets(args.set, args.unset or None)
    times = []
    for _ in range(args.repeats + 1):
        started = time.perf_counter()
        editor.edit(photo, targets)
        times.append(time.perf_counter() - started)
    steady = sorted(times[1:])
    print(f"first edit (includes tracing): {times[0]:.2f} s; then median {steady[len(steady) // 2]:.2f} s "
          f"[min {steady[0]:.2f}, max {steady[-1]:.2f}] per photo over {args.repeats}")


if __name__ == "__main__":
    main()
