"""Parameter values in a recipe: constants and distributions.

A bare YAML value is a :class:`Constant`; a one-key mapping whose key is a distribution name
is parsed by :func:`parse_value`. Every distribution draws from the Generator it is given,
in a fixed order, so a draw is a pure function of that Generator's state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import RecipeError
from .._validate import suggest

MAX_REJECTIONS = 1000
INT_BOUND = 2**63 - 1    # numpy's integer draws are 64-bit


def _number(value, what: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecipeError(f"{what} = {value!r}: expected a finite number", path=path)
    return value


def _pick(rng: np.random.Generator, cumulative: np.ndarray) -> int:
    """Index drawn with probabilities given by a normalised cumulative sum (one uniform)."""
    return int(np.searchsorted(cumulative, rng.random(), side="right"))


def cumulative_weights(weights, path: str) -> np.ndarray:
    """Normalised cumulative weights; raises for negative or all-zero weights."""
    w = [float(_number(x, "weight", path)) for x in weights]
    if any(x < 0 for x in w):
        raise RecipeError(f"weights {weights}: expected non-negative numbers", path=path)
    total = sum(w)
    if total <= 0:
        raise RecipeError(f"weights {weights}: expected at least one positive weight", path=path)
    cum = np.cumsum(w) / total
    cum[-1] = 1.0
    return cum


class Value:
    """A recipe value: ``sample(rng)`` gives a concrete, JSON-native value."""
    path: str = ""

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def outcomes(self) -> list | None:
        """Every possible value when finite (constants, choices), else None."""
        return None

    def kind(self) -> str:
        """'float' or 'int' for numeric distributions, 'any' otherwise."""
        return "any"

    def support(self) -> tuple[float, float] | None:
        """(smallest, largest) value it can give, over its whole range; None when it gives
        no numbers (text, lists, booleans)."""
        return None


@dataclass
class Constant(Value):
    value: Any
    path: str = ""

    def sample(self, rng):
        return self.value

    def outcomes(self):
        return [self.value]

    def support(self):
        return _number_support([self.value])


@dataclass
class Uniform(Value):
    low: float
    high: float
    path: str = ""

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def kind(self):
        return "float"

    def support(self):
        return self.low, self.high


@dataclass
class LogUniform(Uniform):
    """``exp(U(log low, log high))``; 0 < low."""

    def sample(self, rng):
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass
class Normal(Value):
    mean: float
    std: float
    low: float | None = None
    high: float | None = None
    path: str = ""

    def sample(self, rng):
        """Gaussian; with bounds, redrawn until inside them (then clipped after 1000 tries)."""
        for _ in range(MAX_REJECTIONS):
            x = float(rng.normal(self.mean, self.std))
            if (self.low is None or x >= self.low) and (self.high is None or x <= self.high):
                return x
        return float(np.clip(x, self.low if self.low is not None else -np.inf,
                             self.high if self.high is not None else np.inf))

    def kind(self):
        return "float"

    def support(self):
        if self.std == 0:
            return self.mean, self.mean
        return (-math.inf if self.low is None else self.low,
                math.inf if self.high is None else self.high)


@dataclass
class IntUniform(Value):
    low: int
    high: int
    path: str = ""

    def sample(self, rng):
        return int(rng.integers(self.low, self.high, endpoint=True))

    def outcomes(self):
        return list(range(self.low, self.high + 1)) if self.high - self.low < 64 else None

    def kind(self):
        return "int"

    def support(self):
        return self.low, self.high


@dataclass
class Choice(Value):
    values: list
    cumulative: np.ndarray
    path: str = ""

    def sample(self, rng):
        return self.values[_pick(rng, self.cumulative)]

    def outcomes(self):
        return list(self.values)

    def support(self):
        return _number_support(self.values)


@dataclass
class Mixture(Value):
    components: list[Value]
    cumulative: np.ndarray
    path: str = ""

    def sample(self, rng):
        return self.components[_pick(rng, self.cumulative)].sample(rng)

    def outcomes(self):
        parts = [c.outcomes() for c in self.components]
        return None if any(p is None for p in parts) else [v for p in parts for v in p]

    def kind(self):
        kinds = {c.kind() for c in self.components}
        if kinds == {"int"}:
            return "int"
        return "float" if kinds <= {"int", "float"} else "any"

    def support(self):
        parts = [p for p in (c.support() for c in self.components) if p is not None]
        return (min(p[0] for p in parts), max(p[1] for p in parts)) if parts else None


def _number_support(values) -> tuple[float, float] | None:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return (min(numbers), max(numbers)) if numbers else None


def check_limits(value: Value, limits, name: str, owner: str, path: str) -> Value:
    """``value`` when every number it can give lies in ``limits`` (a registry ``Range``, or
    None: anything); else a RecipeError naming the value, the end that is out and the range
    parameter ``name`` of ``owner`` (e.g. "op 'jpeg'") takes. The whole support counts, not
    the draws of a dry run: a distribution that can leave the range fails at some sample of
    every long run."""
    support = value.support() if limits is not None else None
    if support is None:
        return value
    bad = next((end for end in support if not limits.contains(end)), None)
    if bad is not None:
        kind = _YAML_NAMES.get(type(value))
        given = repr(bad) if isinstance(value, Constant) else (
            f"{{{kind}: [{support[0]!r}, {support[1]!r}]}} can give {bad!r}"
            if isinstance(value, (Uniform, IntUniform)) else
            f"{{{kind}: ...}} ranges over [{support[0]!r}, {support[1]!r}] and can give {bad!r}")
        hint = " (give the normal 'low' and 'high' bounds)" if isinstance(value, Normal) else ""
        raise RecipeError(f"{given}: parameter '{name}' of {owner} takes "
                          f"{limits.describe(name)}{hint}", path=path)
    return value


def _pair(spec, name: str, path: str, integer: bool = False) -> tuple:
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise RecipeError(f"{{{name}: {spec!r}}}: expected [low, high]", path=path)
    lo, hi = (_number(v, name, path) for v in spec)
    if integer and not all(isinstance(v, int) or float(v).is_integer() for v in (lo, hi)):
        raise RecipeError(f"{{{name}: {list(spec)}}}: expected integer bounds", path=path)
    if lo > hi:
        raise RecipeError(f"{{{name}: {list(spec)}}}: low {lo} > high {hi}; expected low <= high",
                          path=path)
    if integer and not all(abs(v) <= INT_BOUND for v in (lo, hi)):
        raise RecipeError(f"{{{name}: {list(spec)}}}: expected integer bounds within "
                          f"+-{INT_BOUND} (64-bit integers)", path=path)
    if not math.isfinite(float(hi) - float(lo)):
        raise RecipeError(f"{{{name}: {list(spec)}}}: the range is wider than a float can hold; "
                          "expected finite high - low", path=path)
    return (int(lo), int(hi)) if integer else (float(lo), float(hi))


def _parse_uniform(spec, path):
    return Uniform(*_pair(spec, "uniform", path), path=path)


def _parse_loguniform(spec, path):
    lo, hi = _pair(spec, "loguniform", path)
    if lo <= 0:
        raise RecipeError(f"{{loguniform: {list(spec)}}}: expected 0 < low", path=path)
    return LogUniform(lo, hi, path=path)


def _parse_int_uniform(spec, path):
    return IntUniform(*_pair(spec, "int_uniform", path, integer=True), path=path)


def _parse_normal(spec, path):
    if isinstance(spec, (list, tuple)):
        if len(spec) != 2:
            raise RecipeError(f"{{normal: {spec!r}}}: expected [mean, std]", path=path)
        spec = {"mean": spec[0], "std": spec[1]}
    if not isinstance(spec, dict):
        raise RecipeError(f"{{normal: {spec!r}}}: expected [mean, std] or "
                          "{mean: m, std: s, low: a, high: b}", path=path)
    unknown = set(spec) - {"mean", "std", "low", "high"}
    if unknown or not {"mean", "std"} <= set(spec):
        raise RecipeError(f"{{normal: {spec!r}}}: expected keys mean, std and optionally low, high",
                          path=path)
    mean, std = _number(spec["mean"], "mean", path), _number(spec["std"], "std", path)
    if std < 0:
        raise RecipeError(f"normal std = {std}: expected std >= 0", path=path)
    low = None if spec.get("low") is None else _number(spec["low"], "low", path)
    high = None if spec.get("high") is None else _number(spec["high"], "high", path)
    if low is not None and high is not None and low > high:
        raise RecipeError(f"normal bounds low {low} > high {high}; expected low <= high", path=path)
    return Normal(float(mean), float(std), low, high, path=path)


def _parse_choice(spec, path):
    if isinstance(spec, dict):
        if set(spec) != {"values", "weights"} and set(spec) != {"values"}:
            raise RecipeError(f"{{choice: {spec!r}}}: expected [a, b, ...] or "
                              "{values: [...], weights: [...]}", path=path)
        values, weights = spec["values"], spec.get("weights")
    else:
        values, weights = spec, None
    if not isinstance(values, list) or not values:
        raise RecipeError(f"{{choice: {spec!r}}}: expected a non-empty list of values", path=path)
    weights = [1] * len(values) if weights is None else weights
    if not isinstance(weights, list) or len(weights) != len(values):
        raise RecipeError(f"choice weights {weights!r}: expected one weight per value "
                          f"({len(values)})", path=path)
    return Choice(list(values), cumulative_weights(weights, path), path=path)


def _parse_mixture(spec, path):
    if not isinstance(spec, list) or not spec:
        raise RecipeError(f"{{mixture: {spec!r}}}: expected a list of "
                          "{weight: w, <distribution>: ...}", path=path)
    components, weights = [], []
    for i, item in enumerate(spec):
        where = f"{path}.mixture[{i}]"
        if not isinstance(item, dict):
            raise RecipeError(f"{item!r}: expected {{weight: w, <distribution>: ...}}", path=where)
        item = dict(item)
        weights.append(item.pop("weight", 1))
        if len(item) != 1 or next(iter(item)) not in PARSERS:
            raise RecipeError(f"{item!r}: expected exactly one distribution "
                              f"({', '.join(PARSERS)}) besides 'weight'", path=where)
        components.append(parse_value(item, where))
    return Mixture(components, cumulative_weights(weights, path), path=path)


PARSERS = {
    "uniform": _parse_uniform,
    "loguniform": _parse_loguniform,
    "normal": _parse_normal,
    "int_uniform": _parse_int_uniform,
    "choice": _parse_choice,
    "mixture": _parse_mixture,
}


def parse_value(raw, path: str) -> Value:
    """A constant, or a distribution when ``raw`` is a one-key mapping naming one."""
    if isinstance(raw, dict):
        if len(raw) == 1:
            (name, spec), = raw.items()
            if name in PARSERS:
                return PARSERS[name](spec, path)
            raise RecipeError(f"unknown distribution {name!r}{suggest(str(name), PARSERS)}; "
                              f"expected one of {', '.join(PARSERS)}", path=path)
        raise RecipeError(f"{raw!r}: a mapping here must be one distribution "
                          f"({', '.join(PARSERS)})", path=path)
    return Constant(raw, path=path)


_YAML_NAMES = {Uniform: "uniform", LogUniform: "loguniform", Normal: "normal",
               IntUniform: "int_uniform", Choice: "choice", Mixture: "mixture"}
