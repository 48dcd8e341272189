"""Reading configuration files: strict YAML, the error a person must fix, and files shipped with the package.

YAML 1.1 quirks are switched off: `on`/`no`/`yes` stay strings, `0755` and `22:30` stay strings,
and only `true`/`false` are booleans.
"""

from __future__ import annotations

import io
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A configuration problem a person must fix; the message says where and what."""


class _StrictLoader(yaml.SafeLoader):
    """safe_load with YAML 1.2-like scalars, so nothing silently turns into a bool or a number."""


_StrictLoader.yaml_implicit_resolvers = {}
for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    kept = [(tag, rx) for tag, rx in _resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    _StrictLoader.yaml_implicit_resolvers[_first] = kept
_BOOL = re.compile(r"^(?:true|false)$")
# Decimal ints only: no leading zeros (octal), no colons (base 60), no underscores.
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"
                    r"|^[-+]?(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+$")
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tf"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _scalar(loader: Any, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_StrictLoader.add_constructor("tag:yaml.org,2002:bool", lambda loader, node: _scalar(loader, node) == "true")
_StrictLoader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(_scalar(loader, node)))
_StrictLoader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: float(_scalar(loader, node)))


def parse_yaml(text: str, name: str | None = None) -> Any:
    """`name` (the file) is what a syntax error names, instead of "<unicode string>"."""
    stream = io.StringIO(text)
    stream.name = name or "<configuration>"
    return yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def default_config_text() -> str:
    return packaged_file("configs", "default.yaml").read_text()


def packaged_file(folder: str, name: str) -> Path:
    """A file shipped with the package (installed) or beside it in a source checkout."""
    try:
        candidate = Path(str(resources.files(f"edge.{folder}").joinpath(name)))
        if candidate.is_file():
            return candidate
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / folder / name
