"""Recipe text -> validated node tree. Every error names the file and the path inside it."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np

from .._errors import DegradeError, RecipeError
from .._registry import DOMAINS, get_op, get_sampler
from .._validate import suggest
from .distributions import Constant, check_limits, cumulative_weights, parse_value
from .nodes import GroupNode, Node, OneOfNode, OpNode, ShuffleNode, SomeOfNode

TOP_KEYS = ("name", "description", "seed", "input", "target", "blocks", "stages")
TARGET_KEYS = ("size", "scale", "region", "flips", "stages", "lq_from", "extra")
#: names an extra target cannot take (the store's arrays, the sample dict's keys)
RESERVED_TARGETS = ("hq", "lq", "records", "record", "index", "gt", "lq_path", "gt_path")
FLIP_KEYS = ("hflip", "vflip", "rot90")
STAGE_KEYS = ("op", "p", "id", "sampler", "weight")
CONTROL_KEYS = ("stages", "block", "one_of", "some_of", "shuffle")
SOME_OF_ORDERS = ("listed", "random")
# keys that users of other tools write where degrade means another one (BasicSR's *_prob,
# Albumentations' always_apply is p: 1)
HABITS = {"prob": "p", "probability": "p", "always_apply": "p", "weights": "weight"}
MAX_STAGE_NODES = 10_000   # nodes after blocks are expanded (a block may use others twice)
MAX_NESTING = 40           # stage lists inside each other (bounds the parser's recursion)


@dataclass
class Target:
    size: tuple[int, int] | None
    scale: int
    hflip: bool
    vflip: bool
    rot90: bool
    lq_from: str
    scale_given: bool = False    # only a stated scale is checked against the LQ size
    # the region the chain degrades, the paired crop of ``size`` taken after it: (h, w), or
    # "whole" (the image, mod-cropped to the scale); None: the crop itself is degraded
    region: tuple[int, int] | str | None = None


def _hint(key, allowed) -> str:
    """A did-you-mean for ``key``: a known habit from other tools first, else the closest name."""
    if key in HABITS and HABITS[key] in allowed:
        return f" (did you mean '{HABITS[key]}'?)"
    return suggest(str(key), allowed)


def _unknown_key(key, allowed, what, path):
    return RecipeError(f"unknown key {key!r} in {what}{_hint(key, allowed)}; "
                       f"expected one of {', '.join(allowed)}", path=path)


def _range_hint(raw, pspec) -> str:
    """For a plain ``[a, b]`` given to a numeric parameter: how to write a range."""
    if (pspec.kind in ("float", "int") and isinstance(raw, list) and len(raw) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)):
        name = "int_uniform" if pspec.kind == "int" else "uniform"
        return (f"; a random value in a range is written {{{name}: [{raw[0]}, {raw[1]}]}} "
                "(a plain list is a constant)")
    return ""


def _probability(raw, path):
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 1:
        raise RecipeError(f"p = {raw!r}: expected a probability in [0, 1]", path=path)
    return float(raw)


def _int_at_least(raw, minimum, path, what):
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise RecipeError(f"{what} = {raw!r}: expected an integer >= {minimum}", path=path)
    return raw


class Parser:
    """Turns the YAML mapping of one recipe into a node tree; one instance per recipe."""

    def __init__(self, data: dict):
        self.data = data
        self.counter = 0
        self.blocks = data.get("blocks") or {}
        self.expanding: list[str] = []

    def next_node(self) -> int:
        self.counter += 1
        if self.counter > MAX_STAGE_NODES:
            raise RecipeError(f"more than {MAX_STAGE_NODES} stages once blocks are expanded; "
                              "expected a smaller recipe (do blocks use each other repeatedly?)")
        return self.counter

    # -- stages ------------------------------------------------------------------------------
    def stage_list(self, raw, path) -> list[Node]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise RecipeError(f"expected a list of stages, got {type(raw).__name__}", path=path)
        return [self.stage(item, f"{path}[{i}]") for i, item in enumerate(raw)]

    def stage(self, raw, path) -> Node:
        if not isinstance(raw, dict):
            raise RecipeError(f"{raw!r}: expected a stage mapping such as {{op: gaussian_blur, ...}}",
                              path=path)
        if path.count("[") > MAX_NESTING:
            raise RecipeError(f"stages nested more than {MAX_NESTING} deep (groups, one_of, shuffle "
                              f"and blocks inside each other); expected at most {MAX_NESTING}", path=path)
        kinds = [k for k in ("op",) + CONTROL_KEYS if k in raw]
        if len(kinds) != 1:
            raise RecipeError(
                "a stage needs exactly one of 'op', 'stages', 'block', 'one_of', 'some_of', "
                "'shuffle'"
                + (f"; found {', '.join(kinds)}" if kinds else f"; got keys {', '.join(map(str, raw))}"),
                path=path)
        p = _probability(raw.get("p", 1.0), f"{path}.p")
        return getattr(self, "_" + kinds[0])(raw, path, p)

    def _check_keys(self, raw, allowed, what, path):
        for key in raw:
            if key not in allowed:
                raise _unknown_key(key, allowed, what, f"{path}.{key}")

    def _op(self, raw, path, p) -> OpNode:
        node = self.next_node()
        try:
            spec = get_op(raw["op"])
        except DegradeError as e:
            raise RecipeError(str(e), path=f"{path}.op") from None
        sampler, config = None, {}
        if "sampler" in raw:
            sampler, config = self._sampler(raw["sampler"], spec.name, f"{path}.sampler")
        label = raw.get("id")
        if label is not None and not isinstance(label, str):
            raise RecipeError(f"id = {label!r}: expected a string label", path=f"{path}.id")
        params = {}
        for key, value in raw.items():
            if key in STAGE_KEYS:
                continue
            where = f"{path}.{key}"
            if key not in spec.params:
                allowed = list(spec.params) + list(STAGE_KEYS)
                raise RecipeError(f"op '{spec.name}' has no parameter {key!r}"
                                  f"{_hint(key, allowed)}; its parameters: "
                                  f"{', '.join(spec.params) or 'none'}", path=where)
            params[key] = self._typed_value(value, spec.params[key], spec.name, where)
        missing = [name for name, ps in spec.params.items()
                   if ps.required and name not in params and name not in spec.meta_in]
        if missing and sampler is None:
            raise RecipeError(f"op '{spec.name}' needs parameter(s) {', '.join(missing)}", path=path)
        if spec.resolve is not None:    # domains/parameters that follow the stage (torch_model)
            try:
                spec, extra = spec.bind({k: v.value for k, v in params.items()
                                         if isinstance(v, Constant)})
            except DegradeError as e:
                raise RecipeError(str(e), path=path) from None
            params.update((k, Constant(v, f"{path}.{k}")) for k, v in extra.items())
        return OpNode(node, path, p, spec, params, label, sampler, config)

    def _typed_value(self, raw, pspec, op, where):
        """Parse a parameter value and check that every value it can take fits ``pspec``."""
        value = parse_value(raw, where)
        outcomes = value.outcomes()
        if outcomes is not None:            # constants, choices, small integer ranges
            for v in outcomes:
                if not pspec.accepts(v):
                    expected = (f"one of {', '.join(map(repr, pspec.choices))}"
                                f"{suggest(v, map(str, pspec.choices)) if isinstance(v, str) else ''}"
                                if pspec.choices else f"a value of type {pspec.describe()}")
                    raise RecipeError(f"{v!r} is not valid for parameter '{pspec.name}' of op "
                                      f"'{op}': expected {expected}{_range_hint(raw, pspec)}",
                                      path=where)
            return check_limits(value, pspec.limits, pspec.name, f"op '{op}'", where)
        # A distribution with too many outcomes to list: numeric kinds only.
        fits = pspec.choices is None and (pspec.kind in ("float", "any")
                                          or (pspec.kind == "int" and value.kind() == "int"))
        if not fits:
            hint = ("use a constant, int_uniform or choice, not a continuous distribution"
                    if pspec.kind == "int" else "use a constant or choice")
            raise RecipeError(f"parameter '{pspec.name}' of op '{op}' takes "
                              f"{pspec.describe() if pspec.kind != 'int' else 'an integer'}: {hint}",
                              path=where)
        return check_limits(value, pspec.limits, pspec.name, f"op '{op}'", where)

    def _sampler(self, raw, op_name, path):
        if not isinstance(raw, dict) or len(raw) != 1:
            raise RecipeError(f"{raw!r}: expected {{SAMPLER_NAME: {{arguments}}}}", path=path)
        (name, config), = raw.items()
        try:
            spec = get_sampler(name)
        except DegradeError as e:
            raise RecipeError(str(e), path=path) from None
        if op_name not in spec.ops:
            raise RecipeError(f"sampler '{name}' makes parameters for {', '.join(spec.ops)}, "
                              f"not for op '{op_name}'", path=path)
        config = {} if config is None else config
        if not isinstance(config, dict):
            raise RecipeError(f"arguments of sampler '{name}' = {config!r}: expected a mapping",
                              path=path)
        for key, value in config.items():
            if key not in spec.params:
                raise RecipeError(f"sampler '{name}' has no argument {key!r}"
                                  f"{suggest(str(key), spec.params)}; its arguments: "
                                  f"{', '.join(spec.params) or 'none'}", path=f"{path}.{name}.{key}")
            if not spec.params[key].accepts(value):
                raise RecipeError(f"{value!r}: expected {spec.params[key].describe()} for "
                                  f"argument '{key}' of sampler '{name}'", path=f"{path}.{name}.{key}")
        return spec, dict(config)

    def _stages(self, raw, path, p) -> GroupNode:
        self._check_keys(raw, ("stages", "p", "weight"), "a group", path)
        node = self.next_node()
        return GroupNode(node, path, p, self.stage_list(raw["stages"], f"{path}.stages"))

    def _one_of(self, raw, path, p) -> OneOfNode:
        self._check_keys(raw, ("one_of", "p", "weight"), "one_of", path)
        items = raw["one_of"]
        if not isinstance(items, list) or not items:
            raise RecipeError("one_of: expected a non-empty list of stages", path=f"{path}.one_of")
        node = self.next_node()
        weights = [item.get("weight", 1) if isinstance(item, dict) else 1 for item in items]
        cumulative = cumulative_weights(weights, f"{path}.one_of")
        children = self.stage_list(items, f"{path}.one_of")
        return OneOfNode(node, path, p, children, cumulative)

    def _some_of(self, raw, path, p) -> SomeOfNode:
        self._check_keys(raw, ("some_of", "n", "order", "p", "weight"), "some_of", path)
        items = raw["some_of"]
        if not isinstance(items, list) or not items:
            raise RecipeError("some_of: expected a non-empty list of stages", path=f"{path}.some_of")
        if "n" not in raw:
            raise RecipeError(f"some_of needs 'n', how many of its {len(items)} stages run: an "
                              "integer or an integer distribution such as {int_uniform: [1, 2]}",
                              path=path)
        n = parse_value(raw["n"], f"{path}.n")
        outcomes = n.outcomes()
        if outcomes is None or not all(isinstance(k, int) and not isinstance(k, bool)
                                       and 0 <= k <= len(items) for k in outcomes):
            raise RecipeError(f"n = {raw['n']!r}: expected an integer in 0..{len(items)} (the "
                              "number of stages) or an int_uniform/choice of such integers",
                              path=f"{path}.n")
        order = raw.get("order", "listed")
        if order not in SOME_OF_ORDERS:
            raise RecipeError(f"order = {order!r}: expected one of {', '.join(SOME_OF_ORDERS)}",
                              path=f"{path}.order")
        node = self.next_node()
        weights = [item.get("weight", 1) if isinstance(item, dict) else 1 for item in items]
        probs = cumulative_weights(weights, f"{path}.some_of")
        probs = np.diff(probs, prepend=0.0)
        if max(outcomes) > int((probs > 0).sum()):
            raise RecipeError(f"n can be {max(outcomes)} but only {int((probs > 0).sum())} stages "
                              "have a positive weight", path=f"{path}.n")
        children = self.stage_list(items, f"{path}.some_of")
        return SomeOfNode(node, path, p, children, probs, n, order)

    def _shuffle(self, raw, path, p) -> ShuffleNode:
        self._check_keys(raw, ("shuffle", "keep_order", "p", "weight"), "shuffle", path)
        spec, keep = raw["shuffle"], raw.get("keep_order", [])
        if isinstance(spec, dict):
            self._check_keys(spec, ("groups", "keep_order"), "shuffle", f"{path}.shuffle")
            spec, keep = spec.get("groups"), spec.get("keep_order", keep)
        where = f"{path}.shuffle"
        if not isinstance(spec, list) or len(spec) < 2:
            raise RecipeError("shuffle: expected a list of at least two groups", path=where)
        node = self.next_node()
        groups = []
        for i, g in enumerate(spec):
            gpath = f"{where}[{i}]"
            items = g if isinstance(g, list) else [g]
            groups.append(GroupNode(self.next_node(), gpath, 1.0, self.stage_list(items, gpath)))
        pairs = []
        if not isinstance(keep, list):
            raise RecipeError(f"keep_order = {keep!r}: expected a list of [i, j] pairs",
                              path=f"{path}.keep_order")
        for pair in keep:
            if (not isinstance(pair, list) or len(pair) != 2 or not all(
                    isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(groups)
                    for k in pair) or pair[0] == pair[1]):
                raise RecipeError(f"keep_order pair {pair!r}: expected [i, j], two different group "
                                  f"indices in 0..{len(groups) - 1}", path=f"{path}.keep_order")
            pairs.append((pair[0], pair[1]))
        return ShuffleNode(node, path, p, groups, pairs)

    def _block(self, raw, path, p) -> GroupNode:
        self._check_keys(raw, ("block", "with", "p", "weight"), "a block use", path)
        name = raw["block"]
        if name not in self.blocks:
            raise RecipeError(f"unknown block {name!r}{suggest(str(name), self.blocks)}; "
                              f"defined blocks: {', '.join(self.blocks) or 'none'}",
                              path=f"{path}.block")
        if name in self.expanding:
            raise RecipeError(f"block {name!r} uses itself", path=path)
        stages = copy.deepcopy(self.blocks[name])
        if not isinstance(stages, list):
            raise RecipeError("a block must be a list of stages", path=f"blocks.{name}")
        self._apply_overrides(stages, raw.get("with") or {}, f"{path}.with")
        node = self.next_node()
        self.expanding.append(name)
        try:
            children = self.stage_list(stages, f"{path}(block {name})")
        finally:
            self.expanding.pop()
        return GroupNode(node, path, p, children)

    @staticmethod
    def _apply_overrides(stages, overrides, path):
        if not isinstance(overrides, dict):
            raise RecipeError(f"{overrides!r}: expected a mapping LABEL.PARAM: VALUE", path=path)
        op_stages = []

        def collect(items):
            for s in items if isinstance(items, list) else []:
                if isinstance(s, dict):
                    if "op" in s:
                        op_stages.append(s)
                    for key in ("stages", "one_of", "some_of"):
                        collect(s.get(key))
        collect(stages)
        for key, value in overrides.items():
            where = f"{path}.{key}"
            if not isinstance(key, str) or "." not in key:
                raise RecipeError(f"override {key!r}: expected LABEL.PARAM (a stage id or op name, "
                                  "a dot, a parameter or 'p')", path=where)
            label, param = key.rsplit(".", 1)
            hits = [s for s in op_stages if s.get("id") == label] or \
                   [s for s in op_stages if s.get("op") == label]
            if not hits:
                labels = {s.get("id") for s in op_stages if s.get("id")} | {s["op"] for s in op_stages}
                raise RecipeError(f"override {key!r}: no stage labelled {label!r} in the block"
                                  f"{suggest(label, labels)}", path=where)
            if len(hits) > 1:
                raise RecipeError(f"override {key!r}: op {label!r} occurs {len(hits)} times in the "
                                  "block; give the stage an 'id' and use it", path=where)
            hits[0][param] = value


def _flips(raw, path):
    if isinstance(raw, bool):
        return raw, raw, raw
    if not isinstance(raw, dict):
        raise RecipeError(f"flips = {raw!r}: expected true/false or {{hflip: b, vflip: b, rot90: b}}",
                          path=path)
    for key, value in raw.items():
        if key not in FLIP_KEYS:
            raise _unknown_key(key, FLIP_KEYS, "flips", f"{path}.{key}")
        if not isinstance(value, bool):
            raise RecipeError(f"{key} = {value!r}: expected true or false", path=f"{path}.{key}")
    return tuple(bool(raw.get(k, False)) for k in FLIP_KEYS)


def parse_target(raw, parser: Parser, input_domain: str) -> tuple[Target, list[Node]]:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise RecipeError(f"{raw!r}: expected a mapping with keys {', '.join(TARGET_KEYS)}",
                          path="target")
    for key in raw:
        if key not in TARGET_KEYS:
            raise _unknown_key(key, TARGET_KEYS, "target", f"target.{key}")
    size = raw.get("size")
    if size is not None:
        pair = [size, size] if isinstance(size, int) and not isinstance(size, bool) else size
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)):
            raise RecipeError(f"size = {size!r}: expected a positive integer or [height, width]",
                              path="target.size")
        size = (pair[0], pair[1])
        from ..sources.headers import max_image_pixels
        if max_image_pixels() is not None and size[0] * size[1] > max_image_pixels():
            raise RecipeError(f"size = {size!r}: more pixels than the image limit of "
                              f"{max_image_pixels()}; no source image could hold it",
                              path="target.size")
    scale = _int_at_least(raw.get("scale", 1), 1, "target.scale", "scale")
    if size is not None and (size[0] % scale or size[1] % scale):
        raise RecipeError(f"size {list(size)} is not divisible by scale {scale}; the LQ would not "
                          "have a whole number of pixels", path="target.size")
    if input_domain == "raw" and size is not None and (size[0] % 2 or size[1] % 2):
        raise RecipeError(f"size {list(size)}: a crop of a mosaic must have even sides",
                          path="target.size")
    hflip, vflip, rot90 = _flips(raw.get("flips", False), "target.flips")
    if input_domain == "raw" and (hflip or vflip or rot90):
        raise RecipeError("flips on a raw mosaic would change its CFA pattern; flip after "
                          "demosaicking or drop 'flips'", path="target.flips")
    lq_from = raw.get("lq_from", "target")
    if lq_from not in ("target", "input"):
        raise RecipeError(f"lq_from = {lq_from!r}: expected 'target' or 'input'",
                          path="target.lq_from")
    region = _region(raw.get("region"), size, scale, input_domain)
    stages = parser.stage_list(raw.get("stages"), "target.stages")
    return Target(size, scale, hflip, vflip, rot90, lq_from, "scale" in raw, region), stages


def parse_extra_targets(raw, parser: Parser) -> dict:
    """``target.extra``: ``{NAME: [stages]}``, the extra target-side images made from the HQ
    (after ``target.stages``), stored next to it. Parsed after the LQ chain, so the node
    numbers (and the random streams) of every other stage are those of the recipe without
    them."""
    raw = (raw or {}).get("extra") if isinstance(raw, dict) else None
    if raw is None:
        return {}
    path = "target.extra"
    if not isinstance(raw, dict) or not raw:
        raise RecipeError(f"extra = {raw!r}: expected a mapping NAME: [stages] (e.g. hq_usm: "
                          "[{op: usm_sharpen}])", path=path)
    out = {}
    for name, stages in raw.items():
        if (not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name)
                or name in RESERVED_TARGETS):
            raise RecipeError(f"extra target name {name!r}: expected a lower-case identifier "
                              f"(letters, digits, _) other than {', '.join(RESERVED_TARGETS)}",
                              path=f"{path}.{name}")
        if not isinstance(stages, list) or not stages:
            raise RecipeError(f"{name} = {stages!r}: expected a non-empty list of stages that "
                              "make it from the HQ", path=f"{path}.{name}")
        out[name] = parser.stage_list(stages, f"{path}.{name}")
    return out


def _region(raw, size, scale, input_domain):
    """``target.region``: None, 'whole', or a size >= the crop size, divisible by the scale."""
    if raw is None:
        return None
    path = "target.region"
    if size is None:
        raise RecipeError("region needs a crop size (target.size): the paired crop of that size "
                          "is taken from the degraded region", path=path)
    if input_domain == "raw":
        raise RecipeError("region is for RGB inputs: a raw recipe degrades its crop", path=path)
    if raw == "whole":
        return raw
    pair = [raw, raw] if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if (not isinstance(pair, list) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
        raise RecipeError(f"region = {raw!r}: expected 'whole', an integer or [height, width]",
                          path=path)
    if pair[0] < size[0] or pair[1] < size[1] or pair[0] % scale or pair[1] % scale:
        raise RecipeError(f"region = {raw!r}: expected at least the crop size {list(size)} and "
                          f"divisible by the scale {scale}", path=path)
    return pair[0], pair[1]


def parse_top(data, file: str | None):
    """Check the top-level keys; return (input domain, seed)."""
    if not isinstance(data, dict):
        raise RecipeError(f"expected a mapping at the top level, got {type(data).__name__}",
                          file=file)
    for key in data:
        if key not in TOP_KEYS:
            raise _unknown_key(key, TOP_KEYS, "the recipe", str(key)).located(file=file)
    if "stages" not in data:
        raise RecipeError("a recipe needs 'stages' (the list of degradation stages)", file=file)
    domain = data.get("input", "srgb")
    if domain not in DOMAINS:
        raise RecipeError(f"input = {domain!r}: expected one of {', '.join(DOMAINS)}",
                          file=file, path="input")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RecipeError(f"seed = {seed!r}: expected a non-negative integer", file=file, path="seed")
    blocks = data.get("blocks") or {}
    if not isinstance(blocks, dict):
        raise RecipeError("blocks: expected a mapping NAME: [stages]", file=file, path="blocks")
    return domain, seed


__all__ = ["Parser", "Target", "parse_extra_targets", "parse_target", "parse_top", "Constant"]
