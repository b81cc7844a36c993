"""`lacgan <command>`: one program for the whole workflow (also `python -m lac_gan <command>`).

Each command's absl flags live in its own module and only the chosen one is imported, because absl
flags are process-global and the commands share flag names (--checkpoint, --out_dir, --seed, ...).
"""
from __future__ import annotations

import importlib
import sys

from absl import app, flags

COMMANDS = {
    "convert": ("tfrecords_tools.convert", "BP4D images + AU_OCC CSVs -> aligned TFRecords with attention maps"),
    "train": ("lac_gan.commands.train", "train LAC-GAN (or --demo: the whole path on a bundled face)"),
    "evaluate": ("lac_gan.commands.evaluate", "the paper's Table 1: AU detection on real vs synthetic faces"),
    "edit": ("lac_gan.commands.edit", "switch chosen AUs on/off in any photo"),
    "export": ("lac_gan.commands.export", "write a SavedModel (aligned image, target AU labels) -> image"),
}

HELP_FLAGS = {"-h", "-?", "--help", "--helpshort", "--helpfull"}


def usage() -> str:
    lines = ["usage: lacgan <command> [flags]   (lacgan <command> --help for its flags)", "", "commands:"]
    lines += [f"  {name:<9} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(usage())
        raise SystemExit(0 if len(argv) >= 2 else 2)
    command = argv[1]
    if command not in COMMANDS:
        print(f"lacgan: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    module = importlib.import_module(COMMANDS[command][0])
    # absl's --help shows the main module's docstring and the key flags of sys.argv[0]: make both
    # the command's.
    program = f"lacgan {command}"
    sys.argv[0] = program
    sys.modules["__main__"].__doc__ = module.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module):
        flags.FLAGS.register_key_flag_for_module(program, flag)
    run_absl(module.main, [program] + argv[2:])


def run_absl(main_function, argv: list[str] | None = None) -> None:
    """absl's app.run, except that --help exits with status 0 (absl ends it with 1, which scripts
    read as failure)."""
    argv = list(sys.argv if argv is None else argv)
    try:
        app.run(main_function, argv=argv)
    except SystemExit as stop:
        if stop.code == 1 and HELP_FLAGS.intersection(argv[1:]):
            raise SystemExit(0) from None
        raise


if __name__ == "__main__":
    main()
