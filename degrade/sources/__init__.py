"""Where clean images come from: image files and folders, camera RAW files, built-in samples.

``read_image`` / ``write_image`` / ``list_images`` handle ordinary image files (see
:mod:`degrade.sources.images` for the conversion policy); ``read_raw`` / ``render_srgb``
read camera RAW files with rawpy (:mod:`degrade.sources.raw`); ``sample_paths``,
``load_sample`` and ``default_image`` give the images shipped in ``degrade/samples``,
``raw_sample_paths`` the RAW (DNG) samples.
OpenCV and rawpy are imported on first use, so importing this package stays cheap.
"""
from __future__ import annotations

from .images import IMAGE_EXTENSIONS, list_images, read_image, write_image
from .raw import RawImage, read_raw, render_srgb
from .samples import default_image, load_sample, raw_sample_paths, sample_names, sample_paths

__all__ = ["IMAGE_EXTENSIONS", "RawImage", "default_image", "list_images", "load_sample",
           "raw_sample_paths", "read_image", "read_raw", "render_srgb", "sample_names", "sample_paths",
           "write_image"]
