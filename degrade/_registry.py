"""Operator and sampler registry.

An op registers itself where it is defined::

    @register_op("gaussian_noise", domain_in=RGB_DOMAINS)
    def gaussian_noise(image, sigma: float = 0.01, gray: bool = False, *, rng=None): ...

The parameter specs (name, kind, default, choices) are read from the signature and its
annotations, so the recipe layer can check types and names without running anything.

Other installed packages contribute ops and samplers through the entry-point groups
``degrade.ops`` and ``degrade.samplers`` (see docs/extending.md): each entry point names a
module whose import registers them (or a function, called once, that does). They load on
first need: when a recipe names an op or sampler that is not built in, and for ``degrade ops``.
Every spec records the package (and version) that provides it; a store records those of
the plugins its recipe uses (:func:`store_provenance`).
"""
from __future__ import annotations

import functools
import inspect
import types
import typing
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Literal

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



PLUGIN_GROUPS = ("degrade.ops", "degrade.samplers")
BUILTIN_PACKAGE = "degrade"


class RegistrationError(DegradeError, ValueError):
    """An op or sampler cannot be registered (bad signature or domain, name taken)."""


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
    package: str = BUILTIN_PACKAGE  # the distribution that provides the op
    version: str = ""               # its version ("" for degrade itself and local code)
    #: ``resolve(constants) -> dict`` called when a recipe stage is loaded (see :meth:`bind`)
    resolve: Callable[[dict], dict] | None = None

    def output_domain(self, domain_in: str) -> str:
        return self.domain_out or domain_in

    def bind(self, constants: dict) -> tuple["OpSpec", dict]:
        """The spec of one recipe stage whose constant parameters are ``constants``.

        For ops registered with ``resolve``: it may return ``domain_in`` / ``domain_out`` (the
        stage's domains, e.g. a network's declared ones) and ``params`` (constant parameters
        to add to the stage, and so to every record, e.g. a model file's sha256). Returns the
        stage's spec and those parameters; raises DegradeError for values it refuses.
        """
        if self.resolve is None:
            return self, {}
        out = self.resolve(dict(constants)) or {}
        domain_in = out.get("domain_in", self.domain_in)
        domain_in = (domain_in,) if isinstance(domain_in, str) else tuple(domain_in)
        domain_out = out.get("domain_out", self.domain_out)
        for d in domain_in + ((domain_out,) if domain_out else ()):
            if d not in DOMAINS:
                raise DegradeError(f"op {self.name}: unknown domain {d!r}; expected one of "
                                   f"{', '.join(DOMAINS)}")
        import dataclasses
        return dataclasses.replace(self, domain_in=domain_in, domain_out=domain_out), \
            dict(out.get("params", {}))


@dataclass(frozen=True)
class SamplerSpec:
    """A joint parameter sampler: ``fn(rng, **config) -> dict`` of op parameters."""
    name: str
    function: Callable
    ops: tuple[str, ...]
    params: dict[str, ParamSpec] = field(default_factory=dict)
    summary: str = ""
    package: str = BUILTIN_PACKAGE
    version: str = ""


_OPS: dict[str, OpSpec] = {}
_SAMPLERS: dict[str, SamplerSpec] = {}
#: (distribution, version) of the plugin being loaded, for the specs it registers
_LOADING: list[tuple[str, str]] = []
_PLUGINS = {"loaded": False}


def _summary(fn: Callable) -> str:
    return (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ").strip()


def _provider(fn: Callable) -> tuple[str, str]:
    """(package, version) that provides ``fn``: the plugin being loaded, degrade itself, the
    installed distribution owning the function's top-level module, or the module name for
    code that is not installed (a script, a notebook)."""
    if _LOADING:
        return _LOADING[-1]
    top = (getattr(fn, "__module__", None) or "__main__").split(".")[0]
    if top == BUILTIN_PACKAGE:
        return BUILTIN_PACKAGE, ""
    from importlib import metadata
    try:
        dist = _packages_distributions().get(top, [])
        if dist:
            return dist[0], metadata.version(dist[0])
    except Exception:            # a broken distribution in the environment: name the module
        pass
    return f"module {fn.__module__}", ""


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict:
    """importlib.metadata's top-level module -> distributions map (one scan per process)."""
    from importlib import metadata
    return metadata.packages_distributions()


def _where(spec) -> str:
    origin = f"{spec.package} {spec.version}".strip()
    return f"{origin} ({spec.function.__module__}.{spec.function.__qualname__})"


def _same_function(a: Callable, b: Callable) -> bool:
    """The same definition (a module imported again, e.g. by a worker or a reload)."""
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _claim(table: dict, kind: str, spec) -> None:
    """Enter ``spec`` under its name unless another function has it (the same definition
    again, e.g. a module imported twice, is not a clash)."""
    old = table.get(spec.name)
    if old is not None and not _same_function(old.function, spec.function):
        raise RegistrationError(f"{kind} name {spec.name!r} is claimed twice: by {_where(old)} "
                                f"and by {_where(spec)}")
    table[spec.name] = spec


def _check_name(name, kind: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistrationError(f"{kind} name {name!r}: expected an identifier such as "
                                "'my_blur' (letters, digits, underscores)")


def _signature_params(fn, what: str, first: str) -> dict[str, ParamSpec]:
    if not callable(fn):
        raise RegistrationError(f"{what}: expected a function, got {type(fn).__name__}")
    if (getattr(fn, "__module__", None) or "").split(".")[0] != BUILTIN_PACKAGE:
        _load_all()          # the built-ins first, so that a clash names the newcomer
    positional = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional:
        raise RegistrationError(f"{what}: the first parameter must be the {first}")
    try:
        return params_from_signature(fn, skip_first=True)
    except Exception as e:       # an annotation that does not resolve
        raise RegistrationError(f"{what}: cannot read the parameter annotations "
                                f"({type(e).__name__}: {e})") from None


def register_op(name: str, *, domain_in: str | Iterable[str] = RGB_DOMAINS,
                domain_out: str | None = None, meta_in: Iterable[str] = (),
                meta_out: Iterable[str] = (), random: bool = False,
                resolve: Callable[[dict], dict] | None = None,
                limits: dict[str, Range] | None = None) -> Callable[[Callable], Callable]:
    """Decorator registering ``fn(image, **params, rng=None)`` as op ``name``; returns
    ``fn`` unchanged.

    Parameters
    ----------
    name : str
        The name recipes use (``{op: NAME}``); refused if another function has it.
    domain_in : str or iterable of str
        Domains the op accepts: ``srgb``, ``linear``, ``camera``, ``raw`` (a 2-D mosaic).
    domain_out : str or None
        The domain it returns; None keeps the input's.
    meta_in, meta_out : iterable of str
        Parameters filled from the sample's metadata when a recipe leaves them out (e.g.
        ``pattern``), and parameters whose values are stored into it.
    random : bool
        The op draws from its ``rng`` (a ``numpy.random.Generator`` keyed by seed, sample
        and stage); every op accepts the keyword ``rng``, random or not.
    resolve : callable, optional
        ``resolve(constants) -> dict`` run when a recipe stage is loaded, for ops whose
        domains depend on their parameters (see :meth:`OpSpec.bind`).
    limits : dict of str to Range, optional
        The values numeric parameters can take; a recipe whose value, or any value its
        distribution can draw, lies outside is refused when it is loaded.

    The parameters' types come from the annotations (``float``, ``int``, ``bool``, ``str``,
    ``Literal[...]``, ``list[float]``, ``X | None``), so recipes are checked before anything
    runs. Raises :class:`RegistrationError` for a bad signature or domain, or a taken name.
    """
    _check_name(name, "op")
    domain_in = (domain_in,) if isinstance(domain_in, str) else tuple(domain_in)
    for d in domain_in + ((domain_out,) if domain_out else ()):
        if d not in DOMAINS:
            raise RegistrationError(f"op {name}: unknown domain {d!r}; expected one of "
                                    f"{', '.join(DOMAINS)}")

    def decorate(fn):
        params = _signature_params(fn, f"op {name}", "image")
        if "rng" not in inspect.signature(fn).parameters:
            raise RegistrationError(f"op {name}: must accept a keyword 'rng' "
                                    "(def op(image, ..., *, rng=None))")
        for m in tuple(meta_in) + tuple(meta_out):
            if m not in params:
                raise RegistrationError(f"op {name}: metadata parameter {m!r} is not a parameter")
        for p, limit in (limits or {}).items():
            if p not in params:
                raise RegistrationError(f"op {name}: limits for {p!r}, which is not a parameter")
            params[p] = replace(params[p], limits=limit)
        package, version = _provider(fn)
        spec = OpSpec(name, fn, domain_in, domain_out, params, tuple(meta_in), tuple(meta_out),
                      random, _summary(fn), package, version, resolve)
        _claim(_OPS, "op", spec)
        fn.__degrade_op__ = spec
        return fn
    return decorate


def register_sampler(name: str, *, ops: str | Iterable[str]) -> Callable[[Callable], Callable]:
    """Decorator registering a joint parameter sampler ``fn(rng, **config) -> dict`` for the
    op(s) ``ops``; returns ``fn`` unchanged.

    A recipe stage uses it as ``{op: OP, sampler: {NAME: {config}}}``: ``fn`` receives the
    stage's random stream and the config and returns parameters of the op (drawn jointly,
    e.g. a colour matrix and matching gains). The config's types come from the annotations.
    Raises :class:`RegistrationError` for a bad signature or a taken name.
    """
    _check_name(name, "sampler")
    ops = (ops,) if isinstance(ops, str) else tuple(ops)
    if not ops or not all(isinstance(o, str) for o in ops):
        raise RegistrationError(f"sampler {name}: ops = {ops!r}: expected op name(s)")

    def decorate(fn):
        params = _signature_params(fn, f"sampler {name}", "random generator (rng)")
        spec = SamplerSpec(name, fn, ops, params, _summary(fn), *_provider(fn))
        _claim(_SAMPLERS, "sampler", spec)
        fn.__degrade_sampler__ = spec
        return fn
    return decorate


def _load_all() -> None:
    import degrade.ops  # noqa: F401  (registers every op and sampler)


def load_plugins() -> None:
    """Import every plugin of the ``degrade.ops`` / ``degrade.samplers`` entry-point groups
    (once per process). A plugin that fails raises DegradeError naming it and the exception."""
    if _PLUGINS["loaded"]:
        return
    _load_all()
    from importlib.metadata import entry_points
    for group in PLUGIN_GROUPS:
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            package = dist.metadata["Name"] if dist is not None else ep.value.split(".")[0]
            version = dist.version if dist is not None else ""
            _LOADING.append((package, version))
            try:
                loaded = ep.load()
                registered = hasattr(loaded, "__degrade_op__") or \
                    hasattr(loaded, "__degrade_sampler__")
                if callable(loaded) and not isinstance(loaded, types.ModuleType) \
                        and not registered:
                    loaded()        # a registration function (else: a module, or an op)
            except Exception as e:
                detail = (str(e).splitlines() or [""])[0]
                raise DegradeError(f"plugin {ep.name!r} ({ep.value}, package {package} "
                                   f"{version}) failed to load: {type(e).__name__}: {detail}"
                                   ) from None
            finally:
                _LOADING.pop()
    _PLUGINS["loaded"] = True


def get_op(name: str) -> OpSpec:
    """The spec of op ``name``; unknown names raise with a did-you-mean suggestion."""
    _load_all()
    if isinstance(name, str) and name not in _OPS:
        load_plugins()
    try:
        return _OPS[name]
    except (KeyError, TypeError):
        raise DegradeError(f"unknown op {name!r}{suggest(str(name), _OPS)}; "
                           "run 'degrade ops' for the list") from None


def get_sampler(name: str) -> SamplerSpec:
    _load_all()
    if isinstance(name, str) and name not in _SAMPLERS:
        load_plugins()
    try:
        return _SAMPLERS[name]
    except (KeyError, TypeError):
        raise DegradeError(f"unknown sampler {name!r}{suggest(str(name), _SAMPLERS)}; "
                           f"known: {', '.join(sorted(_SAMPLERS)) or 'none'}") from None


def registered_functions() -> dict[str, Callable]:
    """``{op name: function}`` of everything registered so far (no imports)."""
    return {name: spec.function for name, spec in _OPS.items()}


def all_ops() -> list[OpSpec]:
    """Every op, built in and from plugins, sorted by name."""
    load_plugins()
    return [_OPS[k] for k in sorted(_OPS)]


def all_samplers() -> list[SamplerSpec]:
    load_plugins()
    return [_SAMPLERS[k] for k in sorted(_SAMPLERS)]


def store_provenance(recipe) -> dict:
    """``{"plugins": {package: version}}`` for the ops and samplers of ``recipe`` that do not
    come with degrade (``{}`` when it uses built-ins only): stored with a store and compared
    when a run resumes, so a store made with a plugin is refused by a run without it or with
    another version of it."""
    stages = getattr(recipe, "stages", None)
    if stages is None:                     # a recipe-like object (tests): nothing to record
        return {}
    from .recipe.nodes import OpNode, walk
    used = {}
    for node in walk(list(getattr(recipe, "target_stages", [])) + list(stages)):
        if isinstance(node, OpNode):
            for spec in (node.op, node.sampler):
                if spec is not None and spec.package != BUILTIN_PACKAGE:
                    used[spec.package] = spec.version
    return {"plugins": dict(sorted(used.items()))} if used else {}
