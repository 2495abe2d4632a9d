"""Contract examples of render_libraw_aahd (needs the built-in RAW samples)."""
from degrade.sources.samples import raw_sample_paths

# The synthetic 32x36 mosaic of the contract test written into the N900 DNG at [0, 0] and
# rendered with AAHD (source_path / crop_origin given as parameters instead of metadata).
EXAMPLES = [
    {"op": "render_libraw_aahd", "input": "raw", "meta": {"pattern": "GRBG"},
     "params": {"source_path": str(raw_sample_paths()[1]), "crop_origin": [0, 0]}},
    {"op": "render_libraw_aahd", "input": "raw",
     "params": {"source_path": str(raw_sample_paths()[0]), "crop_origin": [100, 200]}},
]
