"""A frozen configuration dataclass saved as JSON in its logdir and read back with every check
(SavedConfig: LacGanConfig in lac_gan/nets/config.py, JaanetConfig in lac_gan/jaanet/config.py), and
the table of what each trainer keeps in its logdir, so that either trainer refuses the other's logdir
without knowing the other's code.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import ClassVar

from lac_gan.common.errors import DataError
from lac_gan.common.json_files import write_json_atomic

# The configuration file each trainer saves in its logdir -> what makes such a logdir (for messages).
LACGAN_CONFIG_FILE = "config.json"
JAANET_CONFIG_FILE = "jaanet_config.json"
TRAINER_LOGDIRS = {
    LACGAN_CONFIG_FILE: "a `lacgan train` logdir",
    JAANET_CONFIG_FILE: "a `lacgan train-detector` logdir (or a converted official model)",
}


class SavedConfig:
    """save / load of a frozen configuration dataclass kept as FILE_NAME in its logdir (LacGanConfig,
    JaanetConfig)."""
    FILE_NAME: ClassVar[str]
    LOGDIR_KIND: ClassVar[str]  # what makes such a logdir, for the message when the file is missing
    # Fields added with a default that changes what a saved model does -> the value that keeps the
    # behaviour of files written before the field existed.
    VALUES_BEFORE_FIELDS: ClassVar[dict] = {}

    def save(self, directory: str | Path) -> Path:
        Path(directory).mkdir(parents=True, exist_ok=True)
        return write_json_atomic(Path(directory) / self.FILE_NAME, dataclasses.asdict(self))

    @classmethod
    def load(cls, directory: str | Path):
        """The configuration saved in `directory`. A DataError naming the file when it is not JSON,
        has unknown fields or values of the wrong type or range; fields it lacks (written by an older
        version) take their VALUES_BEFORE_FIELDS (what the model was made with) or else their
        defaults, with a warning."""
        path = Path(directory) / cls.FILE_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no {cls.FILE_NAME}; is {directory} {cls.LOGDIR_KIND}?")
        try:
            values = json.loads(path.read_text())
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
            raise DataError(f"{path}: not readable JSON ({error})") from error
        if not isinstance(values, dict):
            raise DataError(f"{path}: expected a JSON object of {cls.__name__} fields, found {type(values).__name__}")
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(defaults))
        if unknown:
            raise DataError(f"{path}: unknown fields {unknown}; written by another version of lacgan?")
        missing = sorted(set(defaults) - set(values))
        if missing:
            before = {n: cls.VALUES_BEFORE_FIELDS[n] for n in missing if n in cls.VALUES_BEFORE_FIELDS}
            logging.warning("%s lacks %s (written by an older version?): %s, the defaults for the rest", path,
                            missing, ", ".join(f"{n} = {v!r} as before it existed" for n, v in before.items()) or "none kept")
            values = {**before, **values}
        wrong = sorted(name for name, value in values.items() if not _same_kind(value, defaults[name]))
        if wrong:
            raise DataError(f"{path}: {', '.join(f'{n} = {values[n]!r}' for n in wrong)}: expected "
                            f"{', '.join(_kind(defaults[n]) for n in wrong)}")
        try:  # JSON has lists where the configurations have tuples.
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        except ValueError as error:
            raise DataError(f"{path}: {error}") from error


def _kind(default) -> str:
    if isinstance(default, tuple):
        return f"a list of {_kind(default[0]) if default else 'str'}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[type(default)]


def _same_kind(value, default) -> bool:
    """Whether a JSON value can stand for a field whose default is `default` (an int is a float)."""
    if isinstance(default, tuple):
        element = default[0] if default else ""
        return isinstance(value, list) and all(_same_kind(v, element) for v in value)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))
