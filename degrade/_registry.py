"""Operator and sampler registry.

An op registers itself where it is defined::

    @register_op("gaussian_noise", domain_in=RGB_DOMAINS)
    def gaussian_noise(image, sigma: float = 0.01, gray: bool = False, *, rng=None): ...

The parameter specs (name, kind, default, choices) are read from the signature and its
annotations, so the recipe layer can check types and names without running anything.
"""
from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal

from ._errors import DegradeError
from ._validate import suggest

DOMAINS = ("srgb", "linear", "camera", "raw")
RGB_DOMAINS = ("srgb", "linear", "camera")
ANY_DOMAIN = DOMAINS
_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Range:
    """The values where an op can work: ``low``/``high`` (None: unbounded), each closed or
    open. Declared with ``register_op(limits=...)``; the recipe layer checks every value a
    distribution can draw against it, and the op's own checks use the same bounds."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value) -> bool:
        return not ((self.low is not None and (value <= self.low if self.low_open
                                               else value < self.low))
                    or (self.high is not None and (value >= self.high if self.high_open
                                                   else value > self.high)))

    def describe(self, name: str = "x") -> str:
        lo = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '<='} "
        hi = "" if self.high is None else f" {'<' if self.high_open else '<='} {self.high:g}"
        return f"{lo}{name}{hi}"


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an op or sampler.

    kind is one of ``float int bool str size array any``; ``size`` is an int or a pair of
    ints, ``array`` a (nested) list of numbers.
    """
    name: str
    kind: str
    default: Any = _REQUIRED
    choices: tuple | None = None
    optional: bool = False       # None is an accepted value
    limits: Range | None = None  # numeric values outside it cannot work

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe(self) -> str:
        text = "|".join(map(str, self.choices)) if self.choices else self.kind
        return text + ("|None" if self.optional else "")

    def accepts(self, value) -> bool:
        """Whether a concrete value has the right type (bounds are the op's business)."""
        if value is None:
            return self.optional
        if self.choices is not None:
            return value in self.choices
        return _KIND_CHECKS[self.kind](value)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_array(v) -> bool:
    if _is_number(v):
        return True
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_array(x) for x in v)


_KIND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "float": _is_number,
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "size": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, (list, tuple)) and len(v) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v)),
    "array": lambda v: isinstance(v, (list, tuple)) and _is_array(v),
    "any": lambda v: True,
}


def _kind_of(annotation) -> tuple[str, tuple | None, bool]:
    """Map a resolved annotation to (kind, choices, optional)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) == 1:
            kind, choices, _ = _kind_of(members[0])
            return kind, choices, optional
        if int in members and any(typing.get_origin(m) is tuple for m in members):
            return "size", None, optional
        return "any", None, optional
    if origin is Literal:
        return "str" if all(isinstance(a, str) for a in typing.get_args(annotation)) else "any", \
            tuple(typing.get_args(annotation)), False
    if origin in (list, tuple) or annotation in (list, tuple):
        return "array", None, False
    simple = {float: "float", int: "int", bool: "bool", str: "str"}
    if annotation in simple:
        return simple[annotation], None, False
    if getattr(annotation, "__name__", "") == "ndarray":
        return "array", None, False
    return "any", None, False


def params_from_signature(fn: Callable, *, skip_first: bool) -> dict[str, ParamSpec]:
    """Parameter specs of ``fn`` (skipping the image / rng argument and ``rng``)."""
    hints = typing.get_type_hints(fn)
    specs = {}
    parameters = list(inspect.signature(fn).parameters.values())
    for p in parameters[1 if skip_first else 0:]:
        if p.name == "rng" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind, choices, optional = _kind_of(hints.get(p.name, Any))
        specs[p.name] = ParamSpec(p.name, kind, p.default, choices,
                                  optional or p.default is None)
    return specs


@dataclass(frozen=True)
class OpSpec:
    """What the recipe layer knows about an op."""
    name: str
    function: Callable
    domain_in: tuple[str, ...]
    domain_out: str | None          # None: same as the input domain
    params: dict[str, ParamSpec]
    meta_in: tuple[str, ...] = ()   # params filled from the sample's metadata when not given
    meta_out: tuple[str, ...] = ()  # params whose values are stored into the metadata
    random: bool = False            # whether the op draws from its ``rng``
    summary: str = ""

    def output_domain(self, domain_in: str) -> str:
        return self.domain_out or domain_in


@dataclass(frozen=True)
class SamplerSpec:
    """A joint parameter sampler: ``fn(rng, **config) -> dict`` of op parameters."""
    name: str
    function: Callable
    ops: tuple[str, ...]
    params: dict[str, ParamSpec] = field(default_factory=dict)
    summary: str = ""


_OPS: dict[str, OpSpec] = {}
_SAMPLERS: dict[str, SamplerSpec] = {}


def _summary(fn: Callable) -> str:
    return (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ").strip()


def register_op(name: str, *, domain_in=RGB_DOMAINS, domain_out: str | None = None,
                meta_in=(), meta_out=(), random: bool = False, limits=None):
    """Decorator registering ``fn`` as op ``name``; returns ``fn`` unchanged.

    ``limits``: ``{parameter: Range}``, the values each numeric parameter can take."""
    domain_in = (domain_in,) if isinstance(domain_in, str) else tuple(domain_in)
    for d in domain_in + ((domain_out,) if domain_out else ()):
        if d not in DOMAINS:
            raise ValueError(f"op {name}: unknown domain {d!r}")

    def decorate(fn):
        if name in _OPS and _OPS[name].function.__qualname__ != fn.__qualname__:
            raise ValueError(f"op name {name!r} registered twice")
        params = params_from_signature(fn, skip_first=True)
        if "rng" not in inspect.signature(fn).parameters:
            raise ValueError(f"op {name}: must accept a keyword 'rng'")
        for m in tuple(meta_in) + tuple(meta_out):
            if m not in params:
                raise ValueError(f"op {name}: metadata parameter {m!r} is not a parameter")
        for p, limit in (limits or {}).items():
            if p not in params:
                raise ValueError(f"op {name}: limits for {p!r}, which is not a parameter")
            params[p] = replace(params[p], limits=limit)
        _OPS[name] = OpSpec(name, fn, domain_in, domain_out, params, tuple(meta_in),
                            tuple(meta_out), random, _summary(fn))
        fn.__degrade_op__ = _OPS[name]
        return fn
    return decorate


def register_sampler(name: str, *, ops):
    """Decorator registering a joint sampler ``fn(rng, **config) -> dict`` for ``ops``."""
    def decorate(fn):
        _SAMPLERS[name] = SamplerSpec(name, fn, tuple(ops),
                                      params_from_signature(fn, skip_first=True), _summary(fn))
        return fn
    return decorate


def _load_all() -> None:
    import degrade.ops  # noqa: F401  (registers every op and sampler)


def get_op(name: str) -> OpSpec:
    """The spec of op ``name``; unknown names raise with a did-you-mean suggestion."""
    _load_all()
    try:
        return _OPS[name]
    except (KeyError, TypeError):
        raise DegradeError(f"unknown op {name!r}{suggest(str(name), _OPS)}; "
                           "run 'degrade ops' for the list") from None


def get_sampler(name: str) -> SamplerSpec:
    _load_all()
    try:
        return _SAMPLERS[name]
    except (KeyError, TypeError):
        raise DegradeError(f"unknown sampler {name!r}{suggest(str(name), _SAMPLERS)}; "
                           f"known: {', '.join(sorted(_SAMPLERS)) or 'none'}") from None


def registered_functions() -> dict[str, Callable]:
    """``{op name: function}`` of everything registered so far (no imports)."""
    return {name: spec.function for name, spec in _OPS.items()}


def all_ops() -> list[OpSpec]:
    _load_all()
    return [_OPS[k] for k in sorted(_OPS)]


def all_samplers() -> list[SamplerSpec]:
    _load_all()
    return [_SAMPLERS[k] for k in sorted(_SAMPLERS)]
