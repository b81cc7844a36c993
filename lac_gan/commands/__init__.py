"""The absl flag definitions and entry points of `lacgan <command>` (see lac_gan/cli.py); `convert` and
`label` are tfrecords_tools' modules. The top layer: it may import every other layer of lac_gan.
"""
