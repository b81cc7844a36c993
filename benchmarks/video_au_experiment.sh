#!/usr/bin/env bash
# LAC-GAN trained and judged on real AU-labelled faces (../shared/datasets/video_au), fold 1:
# convert with the clips' own 49 landmarks and subject split, train the small preset on parts 1+2,
# score part 3 (held-out people) with OpenFace (Table 1 with the Source control) and with our
# JAA-Net when a checkpoint is given (300 seeded pairs, as docs/results-video-au.md; identity by dlib),
# and edit the shared fixture photos.
#
#   bash benchmarks/video_au_experiment.sh OUT [STEPS] [CONFIG_OVERRIDE] [JAANET_LOGDIR]
#
# OUT gets tfrecords/, run/, table1_openface/, table1_jaanet/, edits/ (with edits/figures/: Fig. 3 and
# Fig. 5 of the fixture photos). STEPS defaults to 1500,
# CONFIG_OVERRIDE (train.py --config_override) to none. Needs ../shared beside the repository and
# OpenFace's runtime (bash ../shared/tools/openface/install-runtime.sh, once per machine).
# Results: docs/results-video-au.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: video_au_experiment.sh OUT [STEPS] [CONFIG_OVERRIDE] [JAANET_LOGDIR]}
steps=${2:-1500}
override=${3:-}
jaanet=${4:-}
shared=../shared
data=$shared/datasets/video_au
openface=$shared/tools/openface/FeatureExtraction

if [ ! -f "$out/tfrecords/manifest.json" ]; then
  python -m tfrecords_tools.convert --bp4d_root "$data/images" --labels_root "$data/AU_OCC" \
    --landmarks_root "$data/landmarks_49" --folds "$data/folds.json" --out_dir "$out/tfrecords"
fi
python train.py --data_dir "$out/tfrecords" --logdir "$out/run" --preset small --fold 1 --steps "$steps" \
  --identity_weights none --checkpoint_every 100 --image_every 250 ${override:+--config_override "$override"} \
  $( [ -f "$out/run/checkpoint" ] && echo --resume )
python evaluate.py --data_dir "$out/tfrecords" --checkpoint "$out/run" --fold 1 --max_frames 300 --detector openface \
  --openface_bin "$openface" --identity_model dlib --out_dir "$out/table1_openface"
if [ -n "$jaanet" ]; then
  python evaluate.py --data_dir "$out/tfrecords" --checkpoint "$out/run" --fold 1 --max_frames 300 --detector jaanet \
    --detector_checkpoint "$jaanet" --out_dir "$out/table1_jaanet"
fi
for edit in "AU12=1,AU6=1" "AU4=1,AU23=1" "AU1=1,AU2=1"; do
  python -m lac_gan edit --checkpoint "$out/run" --image "$shared/fixtures/faces" --set "$edit" \
    --out "$out/edits/${edit//[=,]/_}" $( [ "$edit" = "AU12=1,AU6=1" ] && echo --figures "$out/edits/figures" )
done
