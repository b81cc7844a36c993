"""The data path, up to the batches a net reads: BP4D's facts (`au_table`: the 12 AUs; `bp4d`: the
9 label, JAA-Net's parts and folds), faces found (`face_detection`, MTCNN), their 49 landmarks
(`landmarks`) and alignment (`alignment`), the AU attention maps (`attention`, Eq. 1-2's A_i), the
TFRecord layout (`record_schema`) and its reader (`dataset`), image files (`image_io`), the nets'
pixel range (`image_range`) and the AU detection scores all layers report (`metrics`: F1, accuracy,
balanced accuracy). A new face detector or landmark model goes here.

May import: lac_gan.common.
"""
