"""Markdown tables of the noise benchmark, for docs/noisebench.md (and the README).

    python tools/noisebench_tables.py summary nb/noisebench.json     # verdict + metric table
    python tools/noisebench_tables.py identify [--crop 256] [--write docs/noisebench.md]

``summary`` renders the JSON that ``degrade noisebench --out DIR`` writes (verdict, every
metric with its 95 % interval). ``identify`` runs the identifiability study
(:func:`degrade.noisebench.identify.confusion`) and prints the confusion matrix; with
``--write FILE`` it replaces the text between ``<!-- identify:begin -->`` and
``<!-- identify:end -->`` in FILE. The same goes for ``summary --write FILE`` between
``<!-- summary:begin -->`` / ``<!-- summary:end -->``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

METRIC_LABELS = (("kl_cond", "kl_cond", ".4f", 1), ("nlf_error", "NLF error %", ".1f", 100),
                 ("kl", "KL (Noise Flow)", ".4f", 1), ("lag1_error", "lag-1 error", ".3f", 1))


def _ci(v, ci, fmt, scale):
    if v is None:
        return "-"
    lo, hi = ci
    return f"{scale * v:{fmt}} [{scale * lo:{fmt}}, {scale * hi:{fmt}}]"


def summary_markdown(data: dict) -> str:
    """Verdict line + one row per model: status and every metric with its interval."""
    from degrade.noisebench.stats import verdict_text

    s = data["settings"]
    lines = [f"{s['pairs']} {s['domain']} pair(s), seed {s['seed']}, "
             f"{s['bootstrap']['replicates']} bootstrap replicates (pairs and patches), "
             f"95 % intervals; lower is better.", "",
             f"**{verdict_text(data['verdict'])}.**", "",
             "| rank | model | status | " + " | ".join(lbl for _, lbl, _, _ in METRIC_LABELS)
             + " |", "|---|---|---|" + "---|" * len(METRIC_LABELS)]
    for r in data["summary"]:
        status = r["status"] + (f" ({r['worse_by']})" if r.get("worse_by") else "")
        lines.append(f"| {r['rank']} | `{r['model']}` | {status} | " + " | ".join(
            _ci(r[k], r[k + "_ci"], fmt, sc) for k, _, fmt, sc in METRIC_LABELS) + " |")
    den = data.get("denoiser")
    if den:
        lines += ["", f"Denoiser trained on each model's pairs ({den['settings']['steps']} steps, "
                  f"{den['settings']['device']}), tested on the real pairs:", "",
                  "| model | PSNR dB [95% CI] | SSIM [95% CI] |", "|---|---|---|"]
        for r in den["rows"]:
            lines.append(f"| `{r['model']}` | {_ci(r['psnr'], r['psnr_ci'], '.2f', 1)} | "
                         f"{_ci(r['ssim'], r['ssim_ci'], '.4f', 1)} |")
    return "\n".join(lines)


def _replace(path: Path, tag: str, text: str) -> None:
    doc = path.read_text()
    pat = re.compile(rf"(<!-- {tag}:begin -->\n).*?(<!-- {tag}:end -->)", re.S)
    if not pat.search(doc):
        sys.exit(f"error: {path}: no <!-- {tag}:begin --> ... <!-- {tag}:end --> markers")
    path.write_text(pat.sub(lambda m: m[1] + text + "\n" + m[2], doc))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary", help="verdict and metric table from noisebench.json")
    s.add_argument("json")
    s.add_argument("--write", metavar="FILE")
    i = sub.add_parser("identify", help="run the identifiability study, print the matrix")
    i.add_argument("--crop", type=int, default=256)
    i.add_argument("--replicates", type=int, default=500)
    i.add_argument("--write", metavar="FILE")
    args = ap.parse_args(argv)
    if args.cmd == "summary":
        text = summary_markdown(json.loads(Path(args.json).read_text()))
        tag = "summary"
    else:
        from degrade.noisebench.identify import (LEVELS, SRGB_LEVEL, confusion,
                                                 confusion_markdown, srgb_confusion)
        from degrade.noisebench.models import MODELS

        rows = confusion(crop=args.crop, replicates=args.replicates)
        levels = "; ".join(f"{k}: exposure {v['exposure']}, shot {v['shot']:g}, read "
                           f"{v['read']:g}" for k, v in LEVELS.items())
        srgb = srgb_confusion(models=list(MODELS), crop=min(args.crop, 256),
                              replicates=args.replicates)
        text = (f"RAW: built-in DNG mosaics, centre {args.crop}x{args.crop}; levels ({levels}); "
                f"{args.replicates} bootstrap replicates.\n\n" + confusion_markdown(rows)
                + f"\n\nsRGB route (unprocess -> noise -> process -> 8 bit; `gaussian_srgb`: "
                f"AWGN sigma {255 * SRGB_LEVEL['sigma']:g}/255 in sRGB): built-in sample images, "
                f"{min(args.crop, 256)}px crops; linear shot {SRGB_LEVEL['shot']:g}, read "
                f"{SRGB_LEVEL['read']:g}.\n\n" + confusion_markdown(srgb))
        tag = "identify"
    print(text)
    if args.write:
        _replace(Path(args.write), tag, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
