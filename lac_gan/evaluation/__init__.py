"""The paper's Table 1 protocol (§4.3): real vs synthetic test sets scored by an AU detector.

protocol: pairing, synthesis and the whole run (`run_evaluation`, which `evaluate.py` calls);
detectors: the detector interface, OpenFace and precomputed CSVs; jaanet_detector: a trained JAA-Net
behind that interface; openface: OpenFace's CSVs and its FeatureExtraction subprocess; report:
table1.md, table1.csv, results.json; face_identity: VGG-Face or dlib identity judges. The scores
themselves (JAA-Net's F1 / accuracy) are lac_gan/data/metrics.py; Fig. 3 / Fig. 5 are
lac_gan/nets/figures.py. A new detector goes in `detectors` (or a module beside it) and
`protocol.build_detector`.

May import: lac_gan.jaanet, lac_gan.training, lac_gan.nets, lac_gan.data, lac_gan.common (never
lac_gan.product, its sibling).
"""
