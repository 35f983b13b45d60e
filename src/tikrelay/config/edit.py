"""Writing settings into the config file the program was started with, in place: the dashboard's
settings form and ``PATCH /api/settings`` come here.

A write names dotted keys (``jobs.max_attempts``) and their values; ``config.setting_keys`` says
which keys may be written. The file is edited with ruamel.yaml's round trip, which keeps the
user's comments, key order, quoting and indentation; a key the file does not have yet goes right
after the last key of its section, before the comment lines that follow it (they describe what
comes next, or are commented-out defaults). Before anything is replaced, the new text must say
what the old one said with only the written keys changed, read back as the loader reads YAML
(PyYAML, YAML 1.1, where ruamel.yaml writes YAML 1.2: ``yes`` would turn into a boolean), and it
must load through ``load_settings`` as the next start will load it, from a temporary file beside
the config file with the file's mode. That file then replaces the config file (``os.replace``:
a reader sees the old file or the new one, never half of one). Nothing is written otherwise.

What is written takes effect when each process that reads the file restarts.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from tikrelay.config.loader import ConfigError, load_settings
from tikrelay.config.setting_keys import (
    InvalidSettingsError,
    SettingKey,
    SettingsWriteError,
    checked_keys,
)
from tikrelay.config.settings import Settings

#: One write at a time in this process: two at once would each keep only its own change.
_WRITING = threading.Lock()


class ConfigFileError(SettingsWriteError):
    """There is no config file, or it cannot be read, edited or replaced as it stands."""


@dataclass(frozen=True)
class Written:
    keys: list[str]
    settings: Settings  # the file as it is now, loaded as the next start will load it


# -- the edit of the YAML text --------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Floats as the loader (PyYAML, YAML 1.1) reads them back: ``1.0e-07``, not ``1e-07``,
    which it would read as text."""


def _represent_float(representer: RoundTripRepresenter, value: float) -> Any:
    text = repr(value)
    mantissa, exponent, power = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{power}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


_Representer.add_representer(float, _represent_float)


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel.yaml's ``indent`` takes them, read from the file's
    own blocks; ``tikrelay init``'s where it has none (mappings by 2, ``  - item``)."""
    mapping: int | None = None
    offset: int | None = None
    sequence = 0
    parent: int | None = None  # the indentation of the last ``key:`` that opens a block
    for line in text.splitlines():
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        column = len(line) - len(body)
        if parent is not None and body.startswith("- ") and column >= parent:
            if offset is None:  # a list's dash may stand under its key (offset 0)
                offset = column - parent
                rest = body[2:]
                sequence = offset + 2 + len(rest) - len(rest.lstrip(" "))
        elif parent is not None and column > parent and mapping is None:
            mapping = column - parent
        code = body.split(" #", 1)[0].rstrip()
        opens = code.endswith(":") and not body.startswith("- ")
        parent = column if opens else None
    mapping = mapping or 2
    if offset is None:
        offset, sequence = mapping, mapping + 2
    return mapping, max(sequence, offset + 2), offset


def _round_trip(text: str) -> YAML:
    handler = YAML()  # round trip: comments, order and styles are kept
    handler.Representer = _Representer
    handler.preserve_quotes = True
    handler.width = 4096  # long lines stay as the user wrote them
    mapping, sequence, offset = _indentation(text)
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    return handler


def _plain_reads_back(text: str) -> bool:
    """The loader reads ``text`` unquoted as this same text (``yes``, ``on`` and ``1:20`` it
    reads as a boolean and a number)."""
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def _styled(value: Any, old: Any) -> Any:
    """``value`` as it should be written where ``old`` was: the old value's quotes (its first
    item's, for a list) and flow or block style kept; text the loader would read as something
    else quoted; a new list in flow style (``[a, b]``), a new mapping in block style."""
    if isinstance(value, str):
        if isinstance(old, SingleQuotedScalarString) and value.isprintable():
            return SingleQuotedScalarString(value)
        if isinstance(old, DoubleQuotedScalarString) or not _plain_reads_back(value):
            return DoubleQuotedScalarString(value)
        return value
    if isinstance(value, list):
        # The items are quoted as the list's first one was.
        sample = old[0] if isinstance(old, CommentedSeq) and old else None
        items = CommentedSeq(_styled(item, sample) for item in value)
        block = isinstance(old, CommentedSeq) and old.fa.flow_style() is False
        if block:
            items.fa.set_block_style()
        else:
            items.fa.set_flow_style()
        return items
    if isinstance(value, dict):
        found = CommentedMap((key, _styled(item, None)) for key, item in value.items())
        if isinstance(old, CommentedMap) and old.fa.flow_style():
            found.fa.set_flow_style()
        else:
            found.fa.set_block_style()
        return found
    return value


def _block(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and bool(node) and not node.fa.flow_style()


def _last_comment(mapping: CommentedMap) -> tuple[list[Any], int] | None:
    """The comment slot after the last item of ``mapping`` (on its deepest last item), which
    holds the comment lines that follow the mapping in the file."""
    node: Any = mapping
    while True:
        where: Any = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        if _block(node[where]):
            node = node[where]
            continue
        slot = node.ca.items.get(where)
        index = 2 if isinstance(node, CommentedMap) else 0
        return (slot, index) if slot and slot[index] is not None else None


def _column(mapping: CommentedMap) -> int | None:
    """The column of the keys of ``mapping`` as the file has them (None for a new mapping)."""
    for key in mapping:
        try:
            return int(mapping.lc.key(key)[1])
        except (KeyError, TypeError):
            continue
    return None


def _detach_tail(mapping: CommentedMap) -> Any:
    """Take the comment lines after ``mapping``'s last key that are not its own (at the key's
    column or less, or after a blank line: they introduce what comes next), to put them after
    a key added at its end. Returns their comment token, or None."""
    if not _block(mapping):
        return None
    found = _last_comment(mapping)
    if found is None:
        return None
    column = _column(mapping)
    if column is None:
        return None
    slot, index = found
    token = slot[index]
    lines = str(token.value).split("\n")
    cut = 1  # the comment at the end of the last line stays with it
    while (
        cut < len(lines)
        and lines[cut].strip()
        and len(lines[cut]) - len(lines[cut].lstrip()) > column
    ):
        cut += 1
    tail = "\n".join(lines[cut:])
    if not tail.strip("\n "):
        return None
    head = "\n".join(lines[:cut]) + "\n"
    if head.strip():
        token.value = head
    else:
        slot[index] = None
    moved = copy.copy(token)
    moved.value = "\n" + tail
    return moved


def _put(mapping: CommentedMap, key: str, value: Any) -> None:
    if key in mapping:
        mapping[key] = _styled(value, mapping[key])
        return
    tail = _detach_tail(mapping)
    mapping[key] = _styled(value, None)
    if tail is None:
        return
    holder, last = mapping, key
    while isinstance(holder[last], CommentedMap) and holder[last]:
        holder = holder[last]
        last = list(holder)[-1]
    holder.ca.items[last] = [None, None, tail, None]


def _set(document: CommentedMap, parts: tuple[str, ...], value: Any) -> None:
    node = document
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, CommentedMap):  # a section the file does not have yet
            nested: Any = value
            for name in reversed(parts[depth + 1 :]):
                nested = {name: nested}
            _put(node, part, nested)
            return
        node = child
    _put(node, parts[-1], value)


def edited_text(text: str, changes: Mapping[tuple[str, ...], Any]) -> str:
    """The config file's ``text`` with each key (its parts) set to its value; everything else
    as the user wrote it. ConfigFileError when the text is not a YAML mapping."""
    handler = _round_trip(text)
    try:
        document = handler.load(text)
    except YAMLError as exc:
        raise ConfigFileError(f"it is not valid YAML ({type(exc).__name__})") from None
    before = ""
    if document is None:  # empty, or comments only: they stay, the keys come after them
        document, before = CommentedMap(), text if text.endswith("\n") or not text else text + "\n"
    if not isinstance(document, CommentedMap):
        raise ConfigFileError("it does not hold a mapping of keys")
    for parts, value in changes.items():
        _set(document, parts, value)
    out = io.StringIO()
    handler.dump(document, out)
    return before + out.getvalue()


# -- checking and replacing the file ---------------------------------------------------------


def _same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all through (``True`` is not ``1``, ``1`` is not ``"1"``)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def _first_difference(left: Any, right: Any, where: tuple[str, ...] = ()) -> tuple[str, ...]:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in [*left, *(k for k in right if k not in left)]:
            if not _same(left.get(key), right.get(key)):
                return _first_difference(left.get(key), right.get(key), (*where, str(key)))
    return where


def _check_meaning(path: Path, old: str, new: str, changes: Mapping[SettingKey, Any]) -> None:
    """The new text says what the old one said with only the written keys changed, as the
    loader reads YAML (PyYAML, YAML 1.1, where ruamel.yaml writes YAML 1.2)."""
    try:
        expected = yaml.safe_load(old) or {}
    except yaml.YAMLError:
        raise ConfigFileError(f"config file {path} is not valid YAML: fix it first") from None
    if not isinstance(expected, dict):
        raise ConfigFileError(f"config file {path} does not hold a mapping of keys: fix it first")
    try:
        found = yaml.safe_load(new) or {}
    except yaml.YAMLError:
        found = None
    for key, value in changes.items():
        node = expected
        for part in key.parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[key.parts[-1]] = value
    if _same(expected, found):
        return
    where = _first_difference(expected, found)
    for key in changes:
        if where[: len(key.parts)] == key.parts:
            raise InvalidSettingsError(
                f"{key.name}: this value cannot be written so that it reads back the same: "
                "write it in the config file by hand",
                key.name,
            )
    raise ConfigFileError(
        f"config file {path} cannot be edited without changing {'.'.join(where) or 'its keys'}: "
        "edit it by hand"
    )


def _read(path: Path) -> tuple[str, os.stat_result]:
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            return handle.read().decode("utf-8"), status
    except FileNotFoundError:
        raise ConfigFileError(
            f"config file {path} does not exist any more: create it, then restart"
        ) from None
    except OSError as exc:
        raise ConfigFileError(f"config file {path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"config file {path} is not UTF-8: save it as UTF-8") from None


def _temporary(path: Path, data: bytes, status: os.stat_result) -> Path:
    """A copy of ``data`` beside ``path``, with its mode (and owner, where allowed)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, status.st_mode & 0o7777)
        if (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
            # Only root gives a file away; otherwise it stays the writer's, as the file was.
            with contextlib.suppress(PermissionError):
                os.chown(temporary, status.st_uid, status.st_gid)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _loads(path: Path, text: str, status: os.stat_result, shown: Path) -> Settings:
    """``text`` loaded by ``load_settings`` from a file beside ``path`` with its mode, as the
    next start would load it; ConfigError names ``shown``, the file the user knows."""
    temporary = _temporary(path, text.encode("utf-8"), status)
    try:
        return load_settings(temporary)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(str(temporary), str(shown))) from None
    finally:
        temporary.unlink(missing_ok=True)


def _culprit(
    path: Path, text: str, status: os.stat_result, changes: Mapping[SettingKey, Any]
) -> str | None:
    """The written key that alone makes the file fail to load; None when the file fails
    without the change too, or no key does alone (only the change as a whole)."""
    try:
        _loads(path, text, status, path)
    except ConfigError:
        return None
    if len(changes) == 1:
        return next(iter(changes)).name
    for key, value in changes.items():
        try:
            _loads(path, edited_text(text, {key.parts: value}), status, path)
        except (ConfigError, SettingsWriteError):
            return key.name
    return None


def _replace(config_file: Path, target: Path, changes: Mapping[SettingKey, Any]) -> Settings:
    """Edit ``target``, check the result and put it in place; the settings it loads to."""
    text, status = _read(target)
    try:
        new = edited_text(text, {key.parts: value for key, value in changes.items()})
    except ConfigFileError as exc:
        raise ConfigFileError(f"config file {config_file} cannot be edited: {exc}") from None
    _check_meaning(config_file, text, new, changes)
    try:
        settings = _loads(target, new, status, config_file)
    except ConfigError as exc:
        key = _culprit(target, text, status, changes)
        raise InvalidSettingsError(f"{exc}; nothing was written", key) from None
    if new != text:
        temporary = _temporary(target, new.encode("utf-8"), status)
        try:
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return settings


def write_settings(config_file: Path | None, changes: Mapping[str, Any]) -> Written:
    """Write ``changes`` (dotted key to value, as JSON gives it; None writes no value) into
    ``config_file`` in place, or raise a SettingsWriteError and write nothing."""
    keys = checked_keys(changes, os.environ)
    if config_file is None:
        raise ConfigFileError(
            "no config file: this process took its settings from the environment and the "
            "defaults, so there is no file to write; start it with --config FILE (or "
            "TIKRELAY_CONFIG) to change settings here"
        )
    wanted = dict(zip(keys, changes.values(), strict=True))
    # The file a link points to is replaced, not the link.
    target = Path(os.path.realpath(config_file))
    with _WRITING:
        try:
            settings = _replace(config_file, target, wanted)
        except OSError as exc:  # a temporary file beside it cannot be made, or moved
            raise ConfigFileError(
                f"config file {config_file} cannot be written ({exc.strerror or exc}): let "
                "this process write the file and its folder, or edit it by hand"
            ) from None
    return Written([key.name for key in keys], settings)
