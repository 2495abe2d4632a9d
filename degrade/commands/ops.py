"""List every registered op with its parameters, domains and providing package (degrade,
or the plugin package that registered it through the ``degrade.ops`` entry points).

Examples:
  degrade ops
  degrade ops --json > ops.json
"""
from __future__ import annotations

import json

HELP = "list the operators, their parameters and domains"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list: name, domain_in, domain_out, package, params, "
                             "summary")


def op_table() -> list[dict]:
    """One JSON-serialisable entry per op, sorted by name."""
    from .._registry import all_ops
    from ..recipe.recipe import to_json_value

    entries = []
    for spec in all_ops():
        params = {}
        for p in spec.params.values():
            params[p.name] = {"type": p.describe(), "required": p.required,
                              "default": None if p.required else to_json_value(p.default)}
            if p.name in spec.meta_in:
                params[p.name]["from_metadata"] = True
        entries.append({"name": spec.name, "domain_in": list(spec.domain_in),
                        # ops with a resolve hook (torch_model) take theirs from the stage
                        "domain_out": spec.domain_out or ("domain_out parameter" if spec.resolve
                                                          else "same"),
                        "random": spec.random,
                        "package": f"{spec.package} {spec.version}".strip(),
                        "params": params, "summary": spec.summary})
    return entries


def run(args) -> int:
    table = op_table()
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    for entry in table:
        domains = f"{'|'.join(entry['domain_in'])} -> {entry['domain_out']}"
        print(f"{entry['name']:<24} {domains:<40} [{entry['package']}]")
        print(f"    {entry['summary']}")
        for name, p in entry["params"].items():
            default = "required" if p["required"] else f"default {p['default']!r}"
            meta = ", from metadata" if p.get("from_metadata") else ""
            print(f"    {name:<16} {p['type']:<28} {default}{meta}")
    print(f"\n{len(table)} ops")
    return 0
