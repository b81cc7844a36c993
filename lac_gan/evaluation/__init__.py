"""The paper's Table 1 protocol (§4.3): real vs synthetic test sets scored by an AU detector.

protocol: pairing, synthesis and the whole run (`run_evaluation`, which `evaluate.py` calls);
detectors: the detector interface, OpenFace and precomputed CSVs; openface: OpenFace's CSVs and
its FeatureExtraction subprocess; metrics: JAA-Net's F1 / accuracy; report: table1.md,
table1.csv, results.json; figures: Fig. 3 and Fig. 5; progress: count / rate / ETA lines.
"""
