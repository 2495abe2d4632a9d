"""Contract example of the network stage (the shipped stand-in ISP: mosaic -> sRGB)."""
EXAMPLES = [
    {"op": "torch_model", "input": "raw",
     "params": {"model": "builtin:standin_isp", "domain_in": "raw", "domain_out": "srgb"}},
]
