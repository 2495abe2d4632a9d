"""Static check that a recipe's domain chain is consistent (before any data is touched)."""
from __future__ import annotations

from .._errors import RecipeError
from .nodes import GroupNode, Node, OneOfNode, OpNode, ShuffleNode, SomeOfNode


def chain_domain(nodes: list[Node], domain: str) -> str:
    """Domain after running ``nodes`` from ``domain``; raises RecipeError where it breaks."""
    for node in nodes:
        after = node_domain(node, domain)
        if node.p < 1 and after != domain:
            raise RecipeError(f"this stage changes the domain from {domain} to {after} but runs "
                              f"only with p = {node.p}; the data after it would have either "
                              "domain. Use p: 1 here", path=node.path)
        domain = after
    return domain


def node_domain(node: Node, domain: str) -> str:
    if isinstance(node, OpNode):
        if domain not in node.op.domain_in:
            raise RecipeError(f"op '{node.op.name}' takes {' or '.join(node.op.domain_in)} data, "
                              f"but the chain is in the '{domain}' domain here", path=node.path)
        return node.op.output_domain(domain)
    if isinstance(node, GroupNode):
        return chain_domain(node.children, domain)
    if isinstance(node, OneOfNode):
        ends = {chain_domain([child], domain) for child in node.children}
        if len(ends) > 1:
            raise RecipeError(f"the branches of one_of end in different domains "
                              f"({', '.join(sorted(ends))}); every branch must end in the same one",
                              path=node.path)
        return ends.pop()
    if isinstance(node, SomeOfNode):
        for child in node.children:
            end = chain_domain([child], domain)
            if end != domain:
                raise RecipeError(f"a some_of stage must keep the domain ({domain}), since any "
                                  f"subset of them may run, but this one ends in {end}",
                                  path=child.path)
        return domain
    if isinstance(node, ShuffleNode):
        for group in node.groups:
            end = chain_domain(group.children, domain)
            if end != domain:
                raise RecipeError(f"a shuffled group must keep the domain ({domain}), but this one "
                                  f"ends in {end}", path=group.path)
        return domain
    raise TypeError(node)
