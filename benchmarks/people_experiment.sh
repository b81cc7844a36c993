#!/usr/bin/env bash
# LAC-GAN and JAA-Net trained on thousands of people and judged on people in no training part:
# LFW's photos (../shared/datasets/lfw_faces) and video_au's frames labelled by OpenFace with
# `lacgan label`, combined and converted (README "Training without BP4D"); JAA-Net and LAC-GAN
# trained on fold 1 (parts 1 + 2); Table 1 on part 3 (LFW's held-out people and video_au's) judged
# by OpenFace 2.0.6 and by the JAA-Net; the fixture photos edited. docs/results-people.md.
#
#   bash benchmarks/people_experiment.sh OUT [LACGAN_STEPS] [JAANET_STEPS] [REGION_STEPS]
#
# OUT gets labels/{lfw,video_au,people}, tfrecords/, jaanet/, lacgan/ (the paper's CARGs, preset
# small) and region/ (the region editor, preset region; each with validation.json: R's held-out
# indicator), table1_openface_*/, table1_jaanet_*/ and region_table1_*/, judged/{region,warp,lacgan}/
# (benchmarks/edit_judged.py: AU12 on and off, AU1, AU4, AU6, AU7, AU15 on, 100 held-out LFW photos each),
# judged_all/ (benchmarks/edit_judged_all.py: every AU on and off and happy, angry; 40 photos each),
# edits/. The CARGs train 1,500 steps of batch 8 (~50-75 min on 2 CPU cores), the region editor
# 1,000 steps of batch 16 (~25 min): the bundled model (lac_gan/resources/bundled_model) is that
# run's step 1,000. Every step resumes: run the same command again after an interruption. Needs
# ../shared beside the repository and OpenFace's runtime (bash ../shared/tools/openface/install-runtime.sh,
# once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: people_experiment.sh OUT [LACGAN_STEPS] [JAANET_STEPS] [REGION_STEPS]}
lacgan_steps=${2:-1500}
jaanet_steps=${3:-5000}
region_steps=${4:-1000}
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
if [ "$(trained "$out/region")" -lt "$region_steps" ]; then
  python train.py --data_dir "$out/tfrecords" --logdir "$out/region" --preset region --fold 1 --steps "$region_steps" \
    --identity_weights none --checkpoint_every 250 --image_every 500 --eval_every 500 $(resume "$out/region")
fi
# Table 1 (evaluate.py writes results.json last: a finished table is not recomputed; an unfinished
# one is replaced as a whole by evaluate.py itself).
table1() {  # CHECKPOINT SUBJECTS DETECTOR_FLAGS... OUT
  local checkpoint=$1 ids=$2 dir=${*: -1}
  [ -f "$dir/results.json" ] && return 0
  python evaluate.py --data_dir "$out/tfrecords" --checkpoint "$checkpoint" --fold 1 --subjects "$ids" \
    --max_frames 300 --identity_model dlib "${@:3:$#-3}" --out_dir "$dir"
}
for group in lfw=S video_au=P; do
  name=${group%=*} ids="${group#*=}.*"
  for model in lacgan region; do
    prefix=$([ $model = lacgan ] && echo "" || echo "${model}_")
    table1 "$out/$model" "$ids" --detector openface --openface_bin "$openface" "$out/${prefix}table1_openface_$name"
    table1 "$out/$model" "$ids" --detector jaanet --detector_checkpoint "$out/jaanet" "$out/${prefix}table1_jaanet_$name"
  done
done
# Edits judged by OpenFace on held-out LFW people, for each generator and the warp (no weights).
judge() {  # MODEL SET STATE AU
  local dir="$out/judged/$1/$2"
  [ -f "$dir/edit_judged.json" ] && return 0
  rm -rf "$dir"
  local source=(--checkpoint "$out/$1"); [ "$1" = warp ] && source=(--editor warp)
  python benchmarks/edit_judged.py "${source[@]}" --labels "$out/labels/people" --part part3 --subjects 'S.*' \
    --set "$2" "--$3" "$4" --count 100 --openface_bin "$openface" --out_dir "$dir"
}
for model in region warp lacgan; do
  judge $model AU12=0 present AU12
  for au in AU12 AU1 AU4 AU6 AU7 AU15; do judge $model $au=1 absent $au; done
done
# Every AU on and off and the combinations, by the three editors, judged by OpenFace and the JAA-Net
# (benchmarks/edit_judged_all.py; resumable per cell).
python benchmarks/edit_judged_all.py --labels "$out/labels/people" --part part3 --subjects 'S.*' \
  --editors "region=$out/region,warp,lacgan=$out/lacgan" --combos happy,angry --count 40 \
  --openface_bin "$openface" --jaanet_checkpoint "$out/jaanet" --out_dir "$out/judged_all"
python -m lac_gan edit --checkpoint "$out/lacgan" --image "$shared/fixtures/faces" --set AU12=1,AU6=1 \
  --out "$out/edits/AU12_1_AU6_1" --figures "$out/edits/figures"
