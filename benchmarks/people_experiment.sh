#!/usr/bin/env bash
# LAC-GAN and JAA-Net trained on thousands of people and judged on people in no training part:
# LFW's photos (../shared/datasets/lfw_faces) and video_au's frames labelled by OpenFace with
# `lacgan label`, combined and converted (README "Training without BP4D"); JAA-Net and LAC-GAN
# trained on fold 1 (parts 1 + 2); Table 1 on part 3 (LFW's held-out people and video_au's) judged
# by OpenFace 2.0.6 and by the JAA-Net; the fixture photos edited. docs/results-people.md.
#
#   bash benchmarks/people_experiment.sh OUT [LACGAN_STEPS] [JAANET_STEPS]
#
# OUT gets labels/{lfw,video_au,people}, tfrecords/, jaanet/, lacgan/ (with validation.json: R's
# held-out indicator), table1_openface/, table1_jaanet/, edits/. Every step resumes: run the same
# command again after an interruption. Needs ../shared beside the repository and OpenFace's runtime
# (bash ../shared/tools/openface/install-runtime.sh, once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: people_experiment.sh OUT [LACGAN_STEPS] [JAANET_STEPS]}
lacgan_steps=${2:-1500}
jaanet_steps=${3:-5000}
shared=../shared
openface=$shared/tools/openface/FeatureExtraction
resume() { [ -f "$1/checkpoint" ] && echo --resume || true; }
# The step of LOGDIR's latest checkpoint (0 without one): a finished training is not resumed again.
trained() { [ -f "$1/checkpoint" ] && grep -o 'ckpt-[0-9]*' "$1/checkpoint" | head -1 | cut -d- -f2 || echo 0; }

python -m lac_gan label --mode photos --images "$shared/datasets/lfw_faces/images" --out_dir "$out/labels/lfw" \
  --openface_bin "$openface"
python -m lac_gan label --mode frames --images "$shared/datasets/video_au/images" \
  --folds "$shared/datasets/video_au/folds.json" --out_dir "$out/labels/video_au" --openface_bin "$openface"
python -m lac_gan label --combine "$out/labels/lfw,$out/labels/video_au" --out_dir "$out/labels/people"
if [ ! -f "$out/tfrecords/manifest.json" ]; then
  python -m lac_gan convert --bp4d_root "$out/labels/people/images" --labels_root "$out/labels/people/AU_OCC" \
    --landmarks_root "$out/labels/people/landmarks_49" --folds "$out/labels/people/folds.json" --out_dir "$out/tfrecords"
fi
if [ "$(trained "$out/jaanet")" -lt "$jaanet_steps" ]; then
  python -m lac_gan train-detector --data_dir "$out/tfrecords" --logdir "$out/jaanet" --preset people --fold 1 \
    --steps "$jaanet_steps" --eval_every 2500 --checkpoint_every 1000 --log_every 50 $(resume "$out/jaanet")
fi
python benchmarks/score_detector.py --data_dir "$out/tfrecords" --fold 1 --out_dir "$out/jaanet_scores" \
  --detector jaanet --detector_checkpoint "$out/jaanet" --group lfw=S --group video_au=P
if [ "$(trained "$out/lacgan")" -lt "$lacgan_steps" ]; then
  python train.py --data_dir "$out/tfrecords" --logdir "$out/lacgan" --preset small --fold 1 --steps "$lacgan_steps" \
    --identity_weights none --checkpoint_every 250 --image_every 500 --eval_every 250 $(resume "$out/lacgan")
fi
for group in lfw=S video_au=P; do
  name=${group%=*} ids="${group#*=}.*"
  python evaluate.py --data_dir "$out/tfrecords" --checkpoint "$out/lacgan" --fold 1 --subjects "$ids" \
    --max_frames 300 --detector openface --openface_bin "$openface" --identity_model dlib \
    --out_dir "$out/table1_openface_$name"
  python evaluate.py --data_dir "$out/tfrecords" --checkpoint "$out/lacgan" --fold 1 --subjects "$ids" \
    --max_frames 300 --detector jaanet --detector_checkpoint "$out/jaanet" --identity_model dlib \
    --out_dir "$out/table1_jaanet_$name"
done
python -m lac_gan edit --checkpoint "$out/lacgan" --image "$shared/fixtures/faces" --set AU12=1,AU6=1 \
  --out "$out/edits/AU12_1_AU6_1" --figures "$out/edits/figures"
