"""BasicSR / Real-ESRGAN options file -> a degrade recipe (``degrade import basicsr``).

Reads the degradation part of a Real-ESRGAN training options file: the top-level keys that
``RealESRGANModel`` / ``RealESRNetModel`` read in ``feed_data`` (resize, noise and JPEG of
both orders, ``second_blur_prob``, ``scale``, ``gt_size``, the USM switches) and the
``datasets.train`` keys of ``RealESRGANDataset`` (both kernel sets, ``final_sinc_prob``,
flips). The recipe it writes has the structure of ``recipes/realesrgan_x4plus.yaml`` and a
comment naming the option behind every value. Semantics (basicsr 1.4.2):

* ``resize_range2`` is relative to the target: basicsr resizes to ``int(H0 / scale * s)``,
  so the recipe draws ``s / scale`` with ``relative_to: target``; the final resize goes to
  ``1 / scale`` of the target.
* ``gaussian_noise_prob`` chooses Gaussian, else Poisson: two ``one_of`` weights (a ``p`` on
  the Gaussian stage would mean "Gaussian or nothing").
* ``gray_noise_prob`` is the probability of gray noise within either noise type.
* ``use_rot`` is a vertical flip and a transpose, each with probability ½: with ``use_hflip``
  the eight orientations are equally likely, as degrade's ``flips`` make them.

Unknown degradation keys are refused with their names (nothing is silently dropped);
training, network, logging and loader keys are ignored and listed in one note.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .._errors import InputError

MODELS = ("RealESRGANModel", "RealESRNetModel")
# top-level keys feed_data reads (queue_size: the training pair pool, not a degradation)
MODEL_KEYS = ("scale", "gt_size", "high_order_degradation", "l1_gt_usm", "percep_gt_usm",
              "gan_gt_usm", "gt_usm", "resize_prob", "resize_range", "gaussian_noise_prob",
              "noise_range", "poisson_scale_range", "gray_noise_prob", "jpeg_range",
              "second_blur_prob", "resize_prob2", "resize_range2", "gaussian_noise_prob2",
              "noise_range2", "poisson_scale_range2", "gray_noise_prob2", "jpeg_range2")
KERNEL_KEYS = ("blur_kernel_size", "kernel_list", "kernel_prob", "sinc_prob", "blur_sigma",
               "betag_range", "betap_range")
DATASET_KEYS = KERNEL_KEYS + tuple(k + "2" for k in KERNEL_KEYS) + (
    "final_sinc_prob", "gt_size", "use_hflip", "use_rot")
# BasicSR keys that are about training, networks, logging or data loading: ignored
TRAINING_KEYS = ("name", "model_type", "num_gpu", "manual_seed", "is_train", "dist", "rank",
                 "world_size", "auto_resume", "root_path", "path", "train", "val", "logger",
                 "dist_params", "find_unused_parameters", "use_static_graph", "queue_size",
                 "datasets")
LOADER_KEYS = ("name", "type", "dataroot_gt", "dataroot_lq", "meta_info", "io_backend",
               "use_shuffle", "num_worker_per_gpu", "batch_size_per_gpu",
               "dataset_enlarge_ratio", "prefetch_mode", "pin_memory", "phase", "scale",
               "filename_tmpl", "mean", "std", "color", "num_prefetch_queue")
REALESRGAN_CROP = 400     # RealESRGANDataset crops (or reflect-pads) every GT to 400x400


@dataclass
class Imported:
    """The recipe text and the notes for the user (one line each)."""
    text: str
    notes: list[str] = field(default_factory=list)


class _Options:
    """Typed access to an options mapping; errors name the file and the key."""

    def __init__(self, data: dict, file: str, prefix: str = ""):
        self.data, self.file, self.prefix = data, file, prefix

    def error(self, key, message) -> InputError:
        return InputError(f"{self.file}: {self.prefix}{key}: {message}")

    def need(self, key):
        if key not in self.data:
            raise self.error(key, "missing (a Real-ESRGAN degradation option degrade needs)")
        return self.data[key]

    def number(self, key, low=-math.inf, high=math.inf):
        v = self.need(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise self.error(key, f"{v!r}: expected a number in [{low:g}, {high:g}]")
        return v

    def boolean(self, key):
        v = self.need(key)
        if not isinstance(v, bool):
            raise self.error(key, f"{v!r}: expected true or false")
        return v

    def numbers(self, key, n, low=-math.inf):
        v = self.need(key)
        if (not isinstance(v, list) or len(v) != n or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and x >= low for x in v)):
            raise self.error(key, f"{v!r}: expected a list of {n} numbers >= {low:g}")
        return v

    def range(self, key, low=-math.inf):
        v = self.numbers(key, 2, low)
        if v[0] > v[1]:
            raise self.error(key, f"{v!r}: expected [low, high] with low <= high")
        return v


def _f(x) -> str:
    """A number as YAML (integers stay integers, floats keep every bit)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return str(int(x))
    return repr(float(x))


def _pair(v) -> str:
    return f"[{_f(v[0])}, {_f(v[1])}]"


class _Writer:
    """YAML lines with the source option of each value as an aligned end-of-line comment."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str, source: str | None = None):
        self.lines.append(f"{text:<56} # {source}" if source else text)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def import_basicsr(source, *, file: str | None = None) -> Imported:
    """Turn a BasicSR options file (path, YAML text or mapping) into recipe YAML text.

    Raises
    ------
    InputError
        Unreadable file, an unsupported ``model_type`` or dataset ``type``, unknown or
        missing degradation keys, values of the wrong type; the message names the key.
    """
    data, file = _load(source, file)
    opt = _Options(data, file)
    datasets = data.get("datasets") or {}
    train = (datasets.get("train") or {}) if isinstance(datasets, dict) else None
    if not isinstance(train, dict):
        raise opt.error("datasets.train", "expected a mapping (the RealESRGANDataset options)")
    ds = _Options(train, file, "datasets.train.")
    model = data.get("model_type") or ("RealESRNetModel" if "gt_usm" in data else "RealESRGANModel")
    if model not in MODELS:
        raise opt.error("model_type", f"{model!r}: degrade imports the synthesis of "
                        f"{' and '.join(MODELS)} (Real-ESRGAN); other models train on stored pairs")
    if train.get("type", "RealESRGANDataset") != "RealESRGANDataset":
        raise ds.error("type", f"{train['type']!r}: expected RealESRGANDataset (the dataset "
                       "whose kernels the Real-ESRGAN models use)")
    if data.get("high_order_degradation", True) is not True:
        raise opt.error("high_order_degradation", "false: the model then trains on stored "
                        "pairs and synthesises nothing; there is no degradation to import")
    _refuse_unknown(data, train, opt, ds)
    notes = _ignored(data, train)
    w = _Writer()
    _header(w, data, file, model, opt, ds)
    _blocks(w, opt, ds)
    _stages(w, opt, ds, model)
    return Imported(w.text(), notes)


def _load(source, file):
    if isinstance(source, dict):
        return source, file or "<options>"
    if isinstance(source, (str, Path)) and ("\n" not in str(source)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{source}: options file not found")
        try:
            text, file = path.read_text(encoding="utf-8"), file or str(source)
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{source}: cannot read options file ({e})") from None
    else:
        text, file = str(source), file or "<options>"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError(f"{file}: invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{file}: expected a BasicSR options mapping at the top level")
    return data, file


def _refuse_unknown(data, train, opt, ds):
    unknown = [k for k in data if k not in MODEL_KEYS + TRAINING_KEYS
               and not str(k).startswith("network_")]
    if unknown:
        raise opt.error(", ".join(map(str, unknown)),
                        "unknown option(s): neither a Real-ESRGAN degradation key degrade "
                        f"imports ({', '.join(MODEL_KEYS)}) nor a BasicSR training key; remove "
                        "them or write the recipe by hand")
    unknown = [k for k in train if k not in DATASET_KEYS + LOADER_KEYS]
    if unknown:
        raise ds.error(", ".join(map(str, unknown)),
                       "unknown RealESRGANDataset option(s); known: "
                       f"{', '.join(DATASET_KEYS)}")


def _ignored(data, train) -> list[str]:
    keys = [k for k in data if k in TRAINING_KEYS
            and k not in ("datasets", "name", "manual_seed", "model_type")]
    keys += [k for k in data if str(k).startswith("network_")]
    keys += [f"datasets.train.{k}" for k in train if k in LOADER_KEYS]
    keys += [f"datasets.{k}" for k in (data.get("datasets") or {}) if k != "train"]
    return [f"note: ignored training/network/loader options: {', '.join(keys)}"] if keys else []


def _header(w, data, file, model, opt, ds):
    scale = int(opt.number("scale", 1))
    if scale != opt.data["scale"]:
        raise opt.error("scale", f"{opt.data['scale']!r}: expected an integer >= 1")
    if "gt_size" in data:
        gt_size, gt_key = int(opt.number("gt_size", 1)), "gt_size"
    else:
        gt_size, gt_key = int(ds.number("gt_size", 1)), "datasets.train.gt_size"
    if gt_size % scale:
        raise opt.error(gt_key, f"{gt_size} is not divisible by scale {scale}")
    hflip, rot = ds.boolean("use_hflip"), ds.boolean("use_rot")
    name = str(data.get("name") or Path(file).stem)
    seed = data.get("manual_seed", 0)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
    w(f"# Imported by `degrade import basicsr` from {Path(file).name} ({model} +")
    w("# RealESRGANDataset, basicsr 1.4.2 semantics). Each comment names the option a value")
    w("# comes from; see docs/rgb_pipelines.md for what degrade does differently.")
    w(f"name: {yaml.safe_dump(name, default_style=None).splitlines()[0]}", "name")
    w(f"description: {model} x{scale} degradation imported from {Path(file).name}.")
    w(f"seed: {seed}", "manual_seed (degrade's own random streams)")
    w("input: srgb")
    w("target:")
    w(f"  size: {gt_size}", f"{gt_key} (the paired crop, taken after the chain)")
    w(f"  scale: {scale}", "scale")
    w(f"  region: {REALESRGAN_CROP}", "RealESRGANDataset's hard-coded 400 crop/pad, degraded whole")
    w(f"  flips: {{hflip: {_f(hflip)}, vflip: {_f(rot)}, rot90: {_f(rot)}}}",
      "datasets.train.use_hflip, use_rot")
    if _hq_sharpened(model, opt):
        w("  stages:")
        w("    - {op: usm_sharpen, amount: 0.5, threshold: 10, ksize: 51}",
          "gt_usm" if model == "RealESRNetModel" else "l1_gt_usm, percep_gt_usm, gan_gt_usm")
    w("  lq_from: target")
    usm = [] if model == "RealESRNetModel" else [k for k in ("l1_gt_usm", "percep_gt_usm")
                                                  if opt.boolean(k)]
    if usm and not _hq_sharpened(model, opt):
        w("  extra:", ", ".join(usm) + ": their target USM(GT), stored as the array hq_usm")
        w("    hq_usm:")
        w("      - {op: usm_sharpen, amount: 0.5, threshold: 10, ksize: 51}")


def _hq_sharpened(model, opt) -> bool:
    """Whether the stored HQ is USM(GT): RealESRNet's gt_usm, or every loss of RealESRGAN on
    USM(GT). Otherwise HQ is the GT (RealESRGAN then still degrades USM(GT))."""
    if model == "RealESRNetModel":
        return opt.boolean("gt_usm")
    return all(opt.boolean(k) for k in ("l1_gt_usm", "percep_gt_usm", "gan_gt_usm"))


def _blocks(w, opt, ds):
    gp, gray = opt.number("gaussian_noise_prob", 0, 1), opt.number("gray_noise_prob", 0, 1)
    gray_choice = f"{{choice: {{values: [true, false], weights: [{_f(gray)}, {_f(1 - gray)}]}}}}"
    w("blocks:")
    w("  noise:")
    w("    - one_of:")
    w(f"        - weight: {_f(gp)}", "gaussian_noise_prob")
    w("          op: gaussian_noise")
    w("          id: gaussian")
    w(f"          sigma: {{uniform: {_pair(opt.range('noise_range', 0))}}}", "noise_range")
    w("          sigma_units: 8bit")
    w(f"          gray: {gray_choice}", "gray_noise_prob")
    w(f"        - weight: {_f(1 - gp)}", "1 - gaussian_noise_prob")
    w("          op: poisson_noise")
    w("          id: poisson")
    w(f"          scale: {{uniform: {_pair(opt.range('poisson_scale_range', 0))}}}",
      "poisson_scale_range")
    w(f"          gray: {gray_choice}", "gray_noise_prob")
    up, down, keep = opt.numbers("resize_prob", 3, 0)
    lo, hi = _resize_range(opt, "resize_range")
    modes = "{choice: [area, bilinear, bicubic]}"
    w("  resize_first:", "relative to the current image (F.interpolate scale_factor)")
    w("    - one_of:")
    w(f"        - {{weight: {_f(up)}, op: resize, id: up, scale: {{uniform: [1, {_f(hi)}]}}, "
      f"mode: &modes {modes}, convention: torch}}", "resize_prob[0], resize_range[1]")
    w(f"        - {{weight: {_f(down)}, op: resize, id: down, scale: {{uniform: [{_f(lo)}, 1]}}, "
      "mode: *modes, convention: torch}", "resize_prob[1], resize_range[0]")
    w(f"        - {{weight: {_f(keep)}, op: resize, id: keep, scale: 1, mode: *modes, "
      "convention: torch}", "resize_prob[2]")
    scale = int(opt.data["scale"])
    w("  final_resize_sinc:", "back to the LR grid (ori_h // scale), then the final sinc")
    w(f"    - {{op: resize, relative_to: target, scale: {_f(1 / scale)}, mode: *modes, "
      "convention: torch}", "1 / scale")
    w("    - op: psf_blur")
    w(f"      p: {_f(ds.number('final_sinc_prob', 0, 1))}", "datasets.train.final_sinc_prob")
    w("      kind: sinc")
    w("      ksize: {choice: [7, 9, 11, 13, 15, 17, 19, 21]}", "RealESRGANDataset's kernel_range")
    w(f"      omega_c: {{uniform: [{_f(math.pi / 3)}, {_f(math.pi)}]}}", "U(pi/3, pi), hard-coded")


def _resize_range(opt, key):
    lo, hi = opt.range(key, 0)
    if not lo <= 1 <= hi or lo <= 0:
        raise opt.error(key, f"[{_f(lo)}, {_f(hi)}]: expected [down, up] with 0 < down <= 1 <= up "
                        "(down factors are drawn from U(down, 1), up factors from U(1, up))")
    return lo, hi


def _kernel(w, ds, suffix, p=None):
    keys = {k: k + suffix for k in KERNEL_KEYS}
    kinds = ds.need(keys["kernel_list"])
    probs = ds.numbers(keys["kernel_prob"], len(kinds) if isinstance(kinds, list) else 0, 0)
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ds.error(keys["kernel_list"], f"{kinds!r}: expected a list of kernel names")
    if "sinc" in kinds:
        raise ds.error(keys["kernel_list"], "'sinc' in the list: RealESRGANDataset draws sinc "
                       f"kernels through {keys['sinc_prob']}, not the kernel list")
    sig = ds.range(keys["blur_sigma"], 0)
    bg, bp = ds.range(keys["betag_range"], 0), ds.range(keys["betap_range"], 0)
    sinc = ds.number(keys["sinc_prob"], 0, 1)
    size = ds.data.get(keys["blur_kernel_size"])
    w("  - op: psf_blur")
    if p is not None:
        w(f"    p: {_f(p)}", "second_blur_prob")
    w("    sampler:")
    w("      realesrgan_kernel:", f"RealESRGANDataset kernel{suffix or 1}")
    w(f"        kernel_list: [{', '.join(kinds)}]", "datasets.train." + keys["kernel_list"])
    w(f"        kernel_prob: [{', '.join(_f(x) for x in probs)}]",
      "datasets.train." + keys["kernel_prob"])
    w(f"        sigma_range: {_pair(sig)}", "datasets.train." + keys["blur_sigma"])
    w(f"        betag_range: {_pair(bg)}", "datasets.train." + keys["betag_range"])
    w(f"        betap_range: {_pair(bp)}", "datasets.train." + keys["betap_range"])
    w(f"        sinc_prob: {_f(sinc)}", "datasets.train." + keys["sinc_prob"])
    if size is not None:
        w(f"    # {keys['blur_kernel_size']}: {size} is not read by RealESRGANDataset "
          "(sizes 7..21 are hard-coded)")


def _stages(w, opt, ds, model):
    scale = int(opt.data["scale"])
    w("stages:")
    if model == "RealESRGANModel" and not _hq_sharpened(model, opt):
        w("  - {op: usm_sharpen, amount: 0.5, threshold: 10, ksize: 51}",
          "RealESRGANModel degrades USM(GT)")
        usm = [k for k in ("l1_gt_usm", "percep_gt_usm", "gan_gt_usm") if opt.data[k]]
        plain = [k for k in ("l1_gt_usm", "percep_gt_usm", "gan_gt_usm") if not opt.data[k]]
        w(f"  # {', '.join(plain)}: false, so HQ is the GT"
          + (f"; {', '.join(usm)}: those losses take degrade.ops.usm_sharpen(hq)" if usm else ""))
    w("  # ---- first order")
    _kernel(w, ds, "")
    w("  - {block: resize_first}", "resize_prob, resize_range")
    w("  - {block: noise}", "gaussian_noise_prob, noise_range, poisson_scale_range, gray_noise_prob")
    w(f"  - {{op: diffjpeg, quality: {{uniform: {_pair(opt.range('jpeg_range', 1))}}}}}",
      "jpeg_range")
    w("  # ---- second order")
    _kernel(w, ds, "2", opt.number("second_blur_prob", 0, 1))
    up, down, keep = opt.numbers("resize_prob2", 3, 0)
    lo, hi = _resize_range(opt, "resize_range2")
    w("  - one_of:", f"size = int(ori_h / {scale} * s): relative to the target, s / {scale}")
    w(f"      - {{weight: {_f(up)}, op: resize, relative_to: target, scale: {{uniform: "
      f"[{_f(1 / scale)}, {_f(hi / scale)}]}}, mode: *modes, convention: torch}}",
      "resize_prob2[0], resize_range2[1] / scale")
    w(f"      - {{weight: {_f(down)}, op: resize, relative_to: target, scale: {{uniform: "
      f"[{_f(lo / scale)}, {_f(1 / scale)}]}}, mode: *modes, convention: torch}}",
      "resize_prob2[1], resize_range2[0] / scale")
    w(f"      - {{weight: {_f(keep)}, op: resize, relative_to: target, scale: {_f(1 / scale)}, "
      "mode: *modes, convention: torch}", "resize_prob2[2]")
    gp2, gray2 = opt.number("gaussian_noise_prob2", 0, 1), opt.number("gray_noise_prob2", 0, 1)
    gray_choice = f"{{choice: {{values: [true, false], weights: [{_f(gray2)}, {_f(1 - gray2)}]}}}}"
    w("  - block: noise")
    w("    with:")
    w(f"      gaussian.weight: {_f(gp2)}", "gaussian_noise_prob2")
    w(f"      gaussian.sigma: {{uniform: {_pair(opt.range('noise_range2', 0))}}}", "noise_range2")
    w(f"      gaussian.gray: {gray_choice}", "gray_noise_prob2")
    w(f"      poisson.weight: {_f(1 - gp2)}", "1 - gaussian_noise_prob2")
    w(f"      poisson.scale: {{uniform: {_pair(opt.range('poisson_scale_range2', 0))}}}",
      "poisson_scale_range2")
    w(f"      poisson.gray: {gray_choice}", "gray_noise_prob2")
    q2 = _pair(opt.range("jpeg_range2", 1))
    w("  - one_of:", "order A: resize + sinc, then JPEG; order B: JPEG, then resize + sinc")
    w(f"      - {{weight: 0.5, stages: [{{block: final_resize_sinc}}, {{op: diffjpeg, quality: "
      f"{{uniform: {q2}}}}}]}}", "jpeg_range2; the 0.5 is hard-coded")
    w(f"      - {{weight: 0.5, stages: [{{op: diffjpeg, quality: {{uniform: {q2}}}}}, "
      "{block: final_resize_sinc}]}", "jpeg_range2")
    w("  - {op: quantize, bit_depth: 8}", "the LQ's only 8-bit rounding")
