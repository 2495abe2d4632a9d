"""A sampler registered by a function the entry point names (the other plugin style)."""
from degrade import register_sampler


def register():
    @register_sampler("plugin_strength", ops=("plugin_tint",))
    def plugin_strength(rng, high: float = 0.2) -> dict:
        """Draw ``strength`` for plugin_tint from U(0, high)."""
        return {"strength": float(rng.uniform(0, high))}
