"""The Recipe object: sample a plan (every drawn parameter) and apply it to an image."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .. import _rng
from .._errors import DegradeError, ParameterError, RecipeError
from .._validate import as_image, check_finite_values
from .nodes import GroupNode, Node, OneOfNode, OpNode, ShuffleNode, SomeOfNode
from .parse import Target

TARGET_NODE = 0   # node number of the target-side draws (crop position, flips)


@dataclass
class Sample:
    """One training pair: ``hq`` target, ``lq`` degraded input, the ``record`` of every drawn
    parameter (JSON-serialisable), the sample's metadata (e.g. CFA ``pattern``) and the
    recipe's extra targets (``target.extra``: name -> image of the HQ's shape)."""
    hq: np.ndarray
    lq: np.ndarray
    record: dict
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _orient(img: np.ndarray, target: dict) -> np.ndarray:
    """The record's flips and rotation, as views."""
    if target.get("hflip"):
        img = img[:, ::-1]
    if target.get("vflip"):
        img = img[::-1]
    return np.rot90(img, target.get("rot90", 0))


def to_json_value(value):
    """Numpy scalars/arrays and tuples -> plain JSON types (floats keep every bit)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


class Recipe:
    """A validated recipe. Build with :func:`degrade.load_recipe` (a file or a built-in name)
    or :meth:`Recipe.from_yaml` (YAML text).

    Attributes: ``name``, ``text`` (YAML), ``hash`` (sha256 of the text), ``seed``,
    ``input_domain``, ``output_domain``, ``target_domain``, ``target_size`` ((h, w) or None),
    ``scale``, ``file``, ``extra_targets`` (names of the extra targets, in recipe order).
    """

    def __init__(self, *, name, text, file, seed, input_domain, target: Target,
                 target_stages: list[Node], stages: list[Node], target_domain, output_domain,
                 description="", extra_stages: dict | None = None):
        self.name, self.text, self.file, self.seed = name, text, file, seed
        self.description = description
        self.hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.input_domain, self.target_domain, self.output_domain = \
            input_domain, target_domain, output_domain
        self.target = target
        self.target_stages, self.stages = target_stages, stages
        self.extra_stages = dict(extra_stages or {})

    # -- public attributes ----------------------------------------------------------------------
    @property
    def target_size(self):
        return self.target.size

    @property
    def scale(self) -> int:
        return self.target.scale

    @property
    def extra_targets(self) -> tuple:
        return tuple(self.extra_stages)

    def __repr__(self):
        return f"Recipe({self.name!r}, input={self.input_domain}, output={self.output_domain})"

    @classmethod
    def from_yaml(cls, text: str, file: str | None = None) -> "Recipe":
        """Parse and validate recipe YAML text (``file`` names it in messages and records)."""
        from .loading import recipe_from_yaml
        return recipe_from_yaml(text, file)

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, seed: int | None = None, index: int = 0) -> dict:
        """Draw every parameter of sample ``index`` without touching an image.

        Returns a JSON-serialisable record: ``seed``, ``index``, ``recipe`` (name),
        ``target`` (crop position as fractions ``u_y``/``u_x`` of the free range, flips) and
        ``target_steps`` / ``steps`` (the ops that run, in order, with their parameters);
        with extra targets also ``extra_steps`` (name -> the ops that make it from the HQ).
        """
        seed = self.seed if seed is None else seed
        rng = _rng.stream(seed, index, TARGET_NODE, _rng.TARGET)
        target = {"u_y": float(rng.random()), "u_x": float(rng.random()),
                  "hflip": bool(rng.random() < 0.5) if self.target.hflip else False,
                  "vflip": bool(rng.random() < 0.5) if self.target.vflip else False,
                  "rot90": 0}
        if self.target.rot90:
            size = self.target.size
            square = size is None or size[0] == size[1]
            target["rot90"] = int(rng.integers(0, 4)) if square else 2 * int(rng.integers(0, 2))
        if self.target.region is not None:      # where the paired crop sits in the region
            target["v_y"], target["v_x"] = float(rng.random()), float(rng.random())
        record = {"seed": seed, "index": index, "recipe": self.name, "target": target,
                  "target_steps": [], "steps": []}
        self._plan(self.target_stages, seed, index, record["target_steps"])
        self._plan(self.stages, seed, index, record["steps"])
        if self.extra_stages:     # only then: records of other recipes stay as they were
            record["extra_steps"] = {}
            for name, nodes in self.extra_stages.items():
                self._plan(nodes, seed, index, record["extra_steps"].setdefault(name, []))
        return record

    def _plan(self, nodes: list[Node], seed: int, index: int, steps: list) -> None:
        for node in nodes:
            rng = _rng.stream(seed, index, node.node, _rng.PLAN)
            if node.p < 1 and not rng.random() < node.p:
                continue
            if isinstance(node, OpNode):
                steps.append({"node": node.node, "op": node.op.name,
                              "params": self._draw_params(node, rng)})
            elif isinstance(node, GroupNode):
                self._plan(node.children, seed, index, steps)
            elif isinstance(node, OneOfNode):
                pick = int(np.searchsorted(node.cumulative, rng.random(), side="right"))
                self._plan([node.children[pick]], seed, index, steps)
            elif isinstance(node, SomeOfNode):
                k = int(node.n.sample(rng))
                picked = [int(i) for i in rng.choice(len(node.children), size=k, replace=False,
                                                     p=node.probs)]
                if node.order == "listed":
                    picked.sort()
                self._plan([node.children[i] for i in picked], seed, index, steps)
            elif isinstance(node, ShuffleNode):
                order = [int(i) for i in rng.permutation(len(node.groups))]
                for first, second in node.keep_order:
                    a, b = order.index(first), order.index(second)
                    if a > b:
                        order[a], order[b] = order[b], order[a]
                self._plan([node.groups[i] for i in order], seed, index, steps)

    def _draw_params(self, node: OpNode, rng) -> dict:
        params = {}
        if node.sampler is not None:
            try:
                drawn = node.sampler.function(rng, **node.sampler_config)
            except ParameterError as e:
                raise RecipeError(str(e), file=self.file, path=f"{node.path}.sampler") from None
            params.update(drawn)
        for name, value in node.params.items():
            params[name] = value.sample(rng)
        return to_json_value(params)

    # -- applying -------------------------------------------------------------------------------
    def run(self, image: np.ndarray, seed: int | None = None, index: int = 0,
            meta: dict | None = None) -> Sample:
        """Make sample ``index``: crop, flips, target stages -> HQ; the chain -> LQ."""
        record = self.sample(seed, index)            # JSON types already, and ours alone
        return self._replay_owned(image, record, meta)

    def replay(self, image: np.ndarray, record: dict, meta: dict | None = None) -> Sample:
        """Apply a record (from :meth:`sample`, :meth:`run` or a store) to ``image``.

        Gives exactly the pair the record was made with: the op noise streams are keyed by
        the record's seed, index and node numbers.
        """
        try:
            int(record["seed"]), int(record["index"]), record["target_steps"], record["steps"]
            if not isinstance(record["target"], dict):
                raise TypeError("'target'")
        except (KeyError, TypeError, ValueError) as e:
            raise DegradeError(f"not a degrade record (missing or bad {e})") from None
        record = json.loads(json.dumps(record))    # a private copy, and proof it is JSON
        return self._replay_owned(image, record, meta)

    def _replay_owned(self, image, record: dict, meta) -> Sample:
        """:meth:`replay` of a JSON record this call may change (the crop position is added)."""
        seed, index = int(record["seed"]), int(record["index"])
        target_steps, steps = record["target_steps"], record["steps"]
        meta = dict(meta or {})
        crop = self._crop(image, record["target"])
        meta["target_size"] = list(crop.shape[:2])
        # the crop's top-left corner in the source file (before flips), for ops that go back
        # to the file (render_libraw_aahd); the engine gives the patch's own as source_origin
        oy, ox = meta.get("source_origin") or (0, 0)
        meta["crop_origin"] = [int(oy) + record["target"]["y"], int(ox) + record["target"]["x"]]
        hq, hq_meta = self._apply(crop, target_steps, seed, index, meta)
        start, lq_meta = (hq, dict(hq_meta)) if self.target.lq_from == "target" else (crop, dict(meta))
        lq, lq_meta = self._apply(start, steps, seed, index, lq_meta)
        self._check_scale(hq, lq, index)
        if self.target.region is not None:
            hq, lq = self._paired_crop(hq, lq, record["target"])
            lq_meta["target_size"] = list(hq.shape[:2])
        # extra targets from the final HQ, as Real-ESRGAN sharpens the cropped GT
        extra = {}
        for name, extra_steps in record.get("extra_steps", {}).items():
            extra[name] = self._apply(hq, extra_steps, seed, index, hq_meta)[0]
            if extra[name].shape != hq.shape:
                path = f"target.extra.{name}"
                raise RecipeError(f"sample {index}: extra target {name!r} has shape "
                                  f"{extra[name].shape}, the HQ {hq.shape}; an extra target "
                                  "must keep the HQ's shape", file=self.file, path=path)
        return Sample(hq, lq, record, lq_meta, extra)

    def _paired_crop(self, hq, lq, target: dict):
        """The ``size`` crop of a degraded region, at a position on the LQ grid (top-left
        ``floor(v (h_lq - h + 1))``, HQ at scale times it), as basicsr's paired_random_crop and
        BSRGAN's random_crop take it; recorded as ``crop`` = [y, x] in HQ region pixels."""
        (h, w), s = self.target.size, self.scale
        if "crop" not in target:
            ly = math.floor(target["v_y"] * (lq.shape[0] - h // s + 1))
            lx = math.floor(target["v_x"] * (lq.shape[1] - w // s + 1))
            target["crop"] = [ly * s, lx * s]
        y, x = target["crop"]
        return (np.ascontiguousarray(hq[y:y + h, x:x + w]),
                np.ascontiguousarray(lq[y // s:(y + h) // s, x // s:(x + w) // s]))

    def _crop(self, image, target: dict) -> np.ndarray:
        raw = self.input_domain == "raw"
        img = as_image(image, name="input image", channels=None if raw else (3,), allow_2d=raw,
                       check_finite=False)      # only the crop is checked, below
        if raw and img.ndim != 2:
            raise DegradeError(f"recipe '{self.name}' takes raw mosaics (H, W); got shape {img.shape}")
        region = self.target.region
        if region is not None:    # the originals flip the whole image, then pad and crop
            img = _orient(img, target)
        H, W = img.shape[:2]
        h, w = self.target.size or (H - H % (2 * self.scale if raw else self.scale),
                                    W - W % (2 * self.scale if raw else self.scale))
        if h > H or w > W or h < 1 or w < 1:
            raise DegradeError(f"recipe '{self.name}': image of {H}x{W} is smaller than the target "
                               f"size {h}x{w}")
        if region == "whole":
            h, w = H - H % self.scale, W - W % self.scale      # BSRGAN's modcrop: top-left
            target["region"] = [h, w]
            target.setdefault("y", 0), target.setdefault("x", 0)
        elif region is not None:
            # Real-ESRGAN reflect-101 pads a GT smaller than its 400 crop at the bottom/right
            if H < region[0] or W < region[1]:
                import cv2
                img = cv2.copyMakeBorder(img, 0, max(0, region[0] - H), 0, max(0, region[1] - W),
                                         cv2.BORDER_REFLECT_101)
                H, W = img.shape[:2]
            h, w = region
            target["region"] = [h, w]
        step = 2 if raw else 1
        y = step * math.floor(target["u_y"] * ((H - h) // step + 1))
        x = step * math.floor(target["u_x"] * ((W - w) // step + 1))
        y, x = target.setdefault("y", y), target.setdefault("x", x)
        target["size"] = list(self.target.size) if region is not None else [h, w]
        out = img[y:y + h, x:x + w]
        check_finite_values(out, name="input image")
        return np.ascontiguousarray(out if region is not None else _orient(out, target))

    def _node_paths(self) -> dict[int, str]:
        from .nodes import walk
        return {n.node: n.path for n in walk(self.target_stages + self.stages)}

    def _apply(self, img, steps, seed, index, meta):
        from .._registry import get_op
        meta = dict(meta)
        for step in steps:
            spec = get_op(step["op"])
            params = dict(step["params"])
            for name in spec.meta_in:
                if name not in params and name in meta:
                    params[name] = meta[name]
            rng = _rng.stream(seed, index, step["node"], _rng.OP) if spec.random else None
            try:
                img = spec.function(img, **params, rng=rng)
            except (ParameterError, TypeError) as e:
                path = self._node_paths().get(step["node"], f"node {step['node']}")
                raise RecipeError(f"sample {index}: {e}", file=self.file, path=path) from None
            for name in spec.meta_out:
                if name in params:
                    meta[name] = params[name]
        return img, meta

    def _check_scale(self, hq, lq, index):
        if not self.target.scale_given and self.target.region is None:
            return
        want = (hq.shape[0] // self.scale, hq.shape[1] // self.scale)
        if lq.shape[:2] != want:
            raise RecipeError(
                f"sample {index}: the chain made an LQ of {lq.shape[0]}x{lq.shape[1]}, but a "
                f"{hq.shape[0]}x{hq.shape[1]} {'target' if self.target.region is None else 'region'}"
                f" at scale {self.scale} needs "
                f"{want[0]}x{want[1]}; end the chain with "
                f"{{op: resize, relative_to: target, scale: {1 / self.scale:g}}}"
                + self._relative_resizes_note(), file=self.file, path="stages")

    def _relative_resizes_note(self) -> str:
        """When other resizes are relative to the target, a changed scale changes them too
        (Real-ESRGAN's second resize draws s / scale): say so, so a port is not half done."""
        from .nodes import walk
        paths = [n.path for n in walk(self.stages) if isinstance(n, OpNode)
                 and n.op.name == "resize" and getattr(n.params.get("relative_to"), "value",
                                                       None) == "target"]
        if len(paths) < 2:
            return ""
        return (f"; the chain has {len(paths)} resizes relative to the target ({paths[0]}, ...): "
                "each one's scale is a fraction of the target, so after changing the scale "
                "revise them all (a Real-ESRGAN options file: degrade import basicsr)")
