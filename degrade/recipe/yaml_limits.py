"""YAML text -> Python data, with limits on size, nesting depth and alias expansion.

``yaml.safe_load`` refuses code, but not resources: ten lines of anchors and aliases
("billion laughs") describe 10**9 nodes, which every later walk over the data expands, and a
few hundred nested groups exceed Python's recursion limit in the loader and in the recipe
parser. The text is therefore first read as a flat stream of parser events (no recursion, no
objects built), counting what a full expansion would visit; only a text within the limits
is loaded. A recipe is small: the shipped ones have 50-400 nodes and a depth of at most 12.
"""
from __future__ import annotations

import re

import yaml

from .._errors import RecipeError

#: nodes (scalars and collections) after every alias is expanded
MAX_NODES = 100_000
#: nesting of mappings and lists (a group or one_of inside another adds 2)
MAX_DEPTH = 64
#: alias uses (``*name``)
MAX_ALIASES = 1_000
#: characters of recipe text
MAX_CHARS = 10_000_000



class _Loader(yaml.SafeLoader):
    """The safe loader (pure Python: libyaml words some errors differently; recipes are
    small), reading ``1e-3`` and ``1e9`` as numbers: YAML 1.1 needs a dot (``1.0e-3``), and
    a sigma written ``1e-3`` would otherwise be the text '1e-3'."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _yaml_error(error: yaml.YAMLError, file: str | None) -> RecipeError:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return RecipeError(f"invalid YAML: {problem}", file=file, path=where)


def check_yaml_limits(text: str, file: str | None = None) -> None:
    """Raise RecipeError when ``text`` nests deeper than ``MAX_DEPTH``, uses more than
    ``MAX_ALIASES`` aliases or expands to more than ``MAX_NODES`` nodes.

    One pass over the parser's events: each collection counts itself plus its content; an
    anchored node's count is remembered, and an alias adds that count (the nodes a walk over
    the loaded data would visit through it)."""
    if len(text) > MAX_CHARS:
        raise RecipeError(f"recipe text of {len(text)} characters: expected at most "
                          f"{MAX_CHARS} (a recipe is a few kB)", file=file)
    counts = [0]                 # expanded node count of each open collection, outermost first
    anchors: list[str | None] = [None]
    sizes: dict[str, int] = {}   # expanded node count of each anchored node
    aliases = 0

    def too_many(event):
        line = event.start_mark.line + 1 if event.start_mark else None
        return RecipeError(
            f"the YAML expands to more than {MAX_NODES} nodes (anchors and aliases '*' repeat "
            "whole subtrees); expected a recipe of at most that size",
            file=file, path=f"line {line}" if line else None)

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise RecipeError(f"more than {MAX_ALIASES} aliases ('*name'); expected at "
                                      f"most {MAX_ALIASES}", file=file,
                                      path=f"line {event.start_mark.line + 1}")
                counts[-1] += sizes.get(event.anchor, 1)   # unknown anchors: the loader says
            elif isinstance(event, yaml.ScalarEvent):
                counts[-1] += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                if len(counts) > MAX_DEPTH:
                    raise RecipeError(
                        f"mappings and lists nested more than {MAX_DEPTH} deep; expected at most "
                        f"{MAX_DEPTH} levels (about {MAX_DEPTH // 2} groups inside each other)",
                        file=file, path=f"line {event.start_mark.line + 1}")
                counts.append(1)
                anchors.append(event.anchor)
            elif isinstance(event, yaml.CollectionEndEvent):
                size, anchor = counts.pop(), anchors.pop()
                if anchor is not None:
                    sizes[anchor] = size
                counts[-1] += size
            else:
                continue
            if sum(counts) > MAX_NODES:
                raise too_many(event)
    except yaml.YAMLError as e:
        raise _yaml_error(e, file) from None


def load_yaml(text: str, file: str | None = None):
    """The data of a YAML document, loaded safely (no tags that run code) after
    :func:`check_yaml_limits`; any problem is one RecipeError naming ``file`` and the line."""
    check_yaml_limits(text, file)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise _yaml_error(e, file) from None
    except RecursionError:       # not reached within MAX_DEPTH; kept as a last line
        raise RecipeError(f"the YAML nests too deeply to load; expected at most {MAX_DEPTH} "
                          "levels", file=file) from None


__all__ = ["MAX_ALIASES", "MAX_CHARS", "MAX_DEPTH", "MAX_NODES", "check_yaml_limits", "load_yaml"]
