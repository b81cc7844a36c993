"""The absl flag definitions and entry points of `lacgan <command>` (see lac_gan/cli.py)."""
