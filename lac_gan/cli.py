"""`lacgan <command>`: one program for the whole workflow (also `python -m lac_gan <command>`).

Each command's absl flags live in its own module and only the chosen one is imported, because absl
flags are process-global and the commands share flag names (--checkpoint, --out_dir, --seed, ...).
"""
from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import traceback

from absl import app, flags

from lac_gan.common.errors import UserError, fault_message
from lac_gan.common.native_output import native_stderr_silenced, wants_everything

COMMANDS = {
    "convert": ("tfrecords_tools.convert", "BP4D images + AU_OCC CSVs -> aligned TFRecords with attention maps"),
    "label": ("tfrecords_tools.label", "AU labels and 49 landmarks for any photos or video frames, by OpenFace"),
    "train": ("lac_gan.commands.train", "train LAC-GAN (or --demo: the whole path on a bundled face)"),
    "evaluate": ("lac_gan.commands.evaluate", "the paper's Table 1: AU detection on real vs synthetic faces"),
    "edit": ("lac_gan.commands.edit", "switch chosen AUs on/off in any photo"),
    "export": ("lac_gan.commands.export", "write a SavedModel (aligned image, target AU labels) -> image"),
    "serve": ("lac_gan.commands.serve", "a local web page: edit a photo's AUs with sliders (the serve extra)"),
    "train-detector": ("lac_gan.commands.train_detector", "train JAA-Net, the paper's second AU detector"),
    "convert-jaanet": ("lac_gan.commands.convert_jaanet", "PyTorch-JAANet v1 .pth weights -> a JAA-Net checkpoint"),
}

HELP_FLAGS = {"-h", "-?", "--help", "--helpshort", "--helpfull"}


def usage() -> str:
    lines = ["usage: lacgan <command> [flags]   (lacgan <command> --help for its flags)", "", "commands:"]
    lines += [f"  {name:<14} {summary}" for name, (_, summary) in COMMANDS.items()]
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
    try:
        module = import_quietly(COMMANDS[command][0], verbose=asks_for_verbosity(argv[2:]))
    except KeyboardInterrupt:  # TensorFlow's import takes seconds
        print(f"lacgan {command}: interrupted before it started; nothing was written", file=sys.stderr)
        raise SystemExit(130) from None
    # absl's --help shows the main module's docstring and the key flags of sys.argv[0]: make both
    # the command's.
    program = f"lacgan {command}"
    sys.argv[:] = [program] + argv[2:]  # what the command sees and records in manifests: `lacgan label --flags`
    sys.modules["__main__"].__doc__ = module.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module):
        flags.FLAGS.register_key_flag_for_module(program, flag)
    run_absl(module.main, [program] + argv[2:], program)


def asks_for_verbosity(args: list[str]) -> bool:
    """Whether the command line sets absl's --verbosity (-v) to 1 or more, read before the command's
    module (and its flags) is imported; a malformed value is left to the command's own flag parsing."""
    verbosity_only = flags.FlagValues()
    flags.DEFINE_integer("verbosity", 0, "", short_name="v", flag_values=verbosity_only)
    try:
        verbosity_only(["lacgan", *args], known_only=True)
    except flags.Error:
        return False
    return verbosity_only.verbosity >= 1


def import_quietly(name: str, verbose: bool = False):
    """Import a command's module, keeping TensorFlow's C++ log lines out of a normal run's output.

    They are not the command's: start-up notices while TF's libraries load (oneDNN, no CUDA driver,
    CPU features; INFO lines), and later ERROR lines of a working run, e.g. `failed call to cuInit`
    on a machine without a GPU. TF writes the start-up lines to file descriptor 2 before it applies
    any TF_CPP_MIN_LOG_LEVEL (even 3 shows them), so that descriptor is pointed at /dev/null for the
    import, and TF's Python logger shows warnings and errors only. The rule, by the user's
    TF_CPP_MIN_LOG_LEVEL (read as TF reads it, lac_gan/common/native_output.py):

    - unset: the quiet import, then 3 (only FATAL) for the run;
    - 1 or more (1 hides INFO, 2 also WARNING, 3 also ERROR): the quiet import, so nothing TF writes
      while it loads is shown, then the user's value for the rest of the run (1 shows TF's later
      warnings and errors, 2 its errors, 3 FATAL only);
    - 0 or below (everything), or `verbose` (--verbosity 1 or more): everything is left to TensorFlow.
    """
    if verbose or wants_everything():
        return importlib.import_module(name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        module = importlib.import_module(name)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # TF's Python INFO lines
    # TensorFlow's own modules also log INFO lines through absl (checkpoint "Sharding callback
    # duration", SavedModel "Writing fingerprint"): not the project's lines.
    logging.getLogger("absl").addFilter(_tensorflow_info_dropped)
    return module


def _tensorflow_info_dropped(record: logging.LogRecord) -> bool:
    tensorflow_code = f"{os.sep}tensorflow{os.sep}" in record.pathname or f"{os.sep}keras{os.sep}" in record.pathname
    return record.levelno >= logging.WARNING or not tensorflow_code


def run_absl(main_function, argv: list[str] | None = None, program: str | None = None) -> None:
    """absl's app.run, with every command's error rule (lac_gan/common/errors.py): a bad flag value is one
    line and exit status 2 (absl prints it with exit status 1), a UserError, OSError or TensorFlow
    OpError raised by the command is one line and its exit status (1, a UsageError's 2), with the
    traceback only under --verbosity=1 or more; --help exits with status 0 (absl ends it with 1,
    which scripts read as failure)."""
    argv = list(sys.argv if argv is None else argv)
    program = program or argv[0]
    try:
        app.run(_reporting_errors(main_function, program), argv=argv,
                flags_parser=functools.partial(_parse_flags, program))
    except SystemExit as stop:
        if stop.code == 1 and HELP_FLAGS.intersection(argv[1:]):
            raise SystemExit(0) from None
        raise


def report_error(program: str, message: object, exit_code: int) -> None:
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(exit_code)


def _parse_flags(program: str, argv: list[str]) -> list[str]:
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        report_error(program, f"{error} (--help lists the flags)", 2)


# What an interrupt (Ctrl-C) leaves, by command: said in one line, exit status 130 (128 + SIGINT).
INTERRUPTED = {
    "convert": "the finished shards are kept; the same command resumes",
    "label": "the photos labelled so far are kept; the same command resumes",
    "train": "the checkpoints written so far are kept in --logdir; add --resume to continue from the newest",
    "train-detector": "the checkpoints written so far are kept in --logdir; add --resume to continue from the newest",
    "evaluate": "this run's table is not written; run it again (it replaces what this run wrote)",
    "edit": "the photos already edited are written; the others are not",
    "export": "no SavedModel was completed; run it again",
    "serve": "the page is stopped; it kept nothing (photos and edits were held in memory only)",
}


def _reporting_errors(main_function, program: str):
    @functools.wraps(main_function)
    def main(argv):
        try:
            return main_function(argv)
        except (KeyboardInterrupt, Exception) as error:
            if isinstance(error, KeyboardInterrupt) or _after_an_interrupt(error):
                report_interrupt(program)
            if not isinstance(error, _faults_outside_the_program()):
                raise
            if flags.FLAGS.verbosity >= 1:
                traceback.print_exc()
            report_error(program, error if isinstance(error, UserError) else fault_message(error),
                         getattr(error, "exit_code", 1))
    return main


def report_interrupt(program: str) -> None:
    kept = INTERRUPTED.get(program.split()[-1], "what was written so far is kept")
    print(f"{program}: interrupted; {kept}", file=sys.stderr, flush=True)
    raise SystemExit(130)


def _after_an_interrupt(error: BaseException) -> bool:
    """Whether an error was raised while a KeyboardInterrupt was being handled (a library's cleanup
    failing half-way: the AttributeError a Ctrl-C during an edit chained to it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__context__
    return False


def _faults_outside_the_program() -> tuple[type[BaseException], ...]:
    """UserError, and what the system refuses (disk full, permission denied, a read-only folder...:
    messages that name the path): OSError, and TensorFlow's OpError once TensorFlow is loaded (its
    C++ file operations: checkpoints, summaries, SavedModels, TFRecords)."""
    tensorflow = sys.modules.get("tensorflow")
    return (UserError, OSError) + ((tensorflow.errors.OpError,) if tensorflow is not None else ())


if __name__ == "__main__":
    main()
