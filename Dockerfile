# GPU image for training and evaluation: docker build -t lacgan . && docker run --gpus all lacgan train ...
FROM tensorflow/tensorflow:2.21.0-gpu

WORKDIR /opt/lacgan

# The base image already has tensorflow 2.21.0 with CUDA; requirements.txt pins the same version, so
# pip keeps it and adds only the rest. .ci/run runs these same two pip commands on every change.
COPY requirements.txt ./
RUN python -m pip install --no-cache-dir -r requirements.txt

COPY pyproject.toml README.md train.py evaluate.py ./
COPY lac_gan ./lac_gan
COPY tfrecords_tools ./tfrecords_tools
RUN python -m pip install --no-cache-dir --no-deps .

# TensorBoard: docker run -p 6006:6006 --entrypoint tensorboard lacgan --logdir /data/runs --bind_all
EXPOSE 6006

ENTRYPOINT ["lacgan"]
CMD ["--help"]
