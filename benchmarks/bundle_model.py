"""Write the model that ships in the package (lac_gan/nets/bundled.py) from a training run.

    python benchmarks/bundle_model.py --checkpoint W/region --judged W/region_judged \\
        --command "bash benchmarks/people_experiment.sh W" --out lac_gan/resources/bundled_model

The manifest records the command that trained it, the data, the commit that trained it, the held-out
scores (every `edit_judged.json` under --judged, by AU) and the commit they were judged with (this
one: the editing code around the weights can change), and each file's size and sha256.

    python benchmarks/bundle_model.py --judged W/judged --out lac_gan/resources/bundled_model

Without --checkpoint, the model already in --out keeps its weights, files and training record; only
its held-out scores and the commit they were judged with are replaced (the editing code changed).
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from lac_gan.common.json_files import write_json_atomic
from lac_gan.nets.bundled import MANIFEST_NAME, read_manifest, write_bundled_model

DATA = ("../shared/datasets/lfw_faces (LFW: 10,358 photos of 4,566 people, research use only) and "
        "../shared/datasets/video_au (2,045 frames of 12 people), AU occurrence and landmarks by OpenFace 2.0.6 "
        "(`lacgan label`), fold 1 (parts 1 + 2). Not BP4D, not FACS-coded: OpenFace's static AU models.")


def judged_scores(folder: Path) -> dict:
    scores = {}
    for path in sorted(folder.glob("*/edit_judged.json")):
        result = json.loads(path.read_text())
        au = result["au"]
        state = "absent" if result["label_before"] == 0 else "present"
        scores[f"{result['set']} on {result['edited']} held-out photos with {au} {state}"] = {
            "read_after_edit": result["present_after_edit"][au], "read_unedited": result["present_unedited"][au],
            "same_person": result["identity"]["same_person_share"]}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="the training run to bundle (default: keep the weights in --out)")
    parser.add_argument("--judged", type=Path, required=True, help="a folder of edit_judged.py outputs (one per AU)")
    parser.add_argument("--command", help="the command that trained the checkpoint (with --checkpoint)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--commit", help="the commit whose code trained the checkpoint (default: HEAD)")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if args.checkpoint is None:
        if args.command or args.commit:
            parser.error("--command and --commit describe a --checkpoint; without one the bundled record is kept")
        manifest = {**read_manifest(args.out), "held_out_openface": judged_scores(args.judged),
                    "judged_with_commit": head}
        print(f"wrote {write_json_atomic(args.out / MANIFEST_NAME, manifest)}")
        return
    if args.command is None:
        parser.error("--checkpoint needs --command (the command that trained it)")
    about = {"command": args.command, "data": DATA, "commit": args.commit or head,
             "held_out_openface": judged_scores(args.judged), "judged_with_commit": head}
    print(f"wrote {write_bundled_model(args.checkpoint, args.out, about)}")


if __name__ == "__main__":
    main()
