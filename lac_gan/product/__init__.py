"""What a user runs a trained model for: editing AUs in any photo (`editing`), a SavedModel
(`export`) and the whole path on a bundled face with no dataset (`demo`). The command line over it is
lac_gan/commands.

May import: lac_gan.jaanet, lac_gan.training, lac_gan.nets, lac_gan.data, lac_gan.common (never
lac_gan.evaluation, its sibling, nor lac_gan.commands).
"""
