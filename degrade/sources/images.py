"""Reading, writing and listing ordinary image files (PNG, JPEG, TIFF, BMP, WebP).

Everything comes back in degrade's data contract: float32, C-contiguous, ``(H, W, 3)`` RGB,
values in [0, 1]. The read policy, in one place:

=====================  ===========================================================
stored as              returned as
=====================  ===========================================================
uint8                  ``x / 255``
uint16                 ``x / 65535`` (a 12-bit image stored in 16 bits stays dark:
                       the file does not say how many bits are used)
float16/32/64 (TIFF)   values unchanged except clipped to [0, 1]; NaN or inf is an error
other integer types    error (signed or 32-bit integers have no agreed white level)
gray (1 channel)       replicated to 3 equal channels
gray + alpha, RGBA     alpha dropped (no compositing; the stored colour is kept as is)
=====================  ===========================================================

Channel order is converted from OpenCV's BGR to RGB. The EXIF orientation is applied as
``cv2.imread`` (and BasicSR's reader) applies it, so a phone JPEG taken upright comes back
upright and :func:`degrade.sources.headers.header_shape` gives the same shape. Images with
more pixels than the limit (:func:`degrade.sources.headers.max_image_pixels`, default
89 478 485) are refused from their header, before decoding. Colour profiles (ICC) are
ignored: values are assumed to be sRGB-encoded.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import DegradeError, InputError, ParameterError
from .._validate import as_image, check_choice, check_scalar
from .headers import check_image_pixels, parse_header

#: File extensions (lower case) that :func:`list_images` picks up and ``read_image`` reads.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Extensions that can hold 16-bit samples when writing.
SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


#: bytes read beyond twice what the pixels need uncompressed (EXIF thumbnails, ICC profiles):
#: a file is never read further, so gigabytes appended to an image are not read. TIFF is
#: read whole: its directories and strips may lie anywhere (other pages, then the first
#: page's directory at the end)
_METADATA_SLACK = 16 << 20


def _decode(path: Path, max_pixels: int | None = None) -> np.ndarray:
    """File bytes -> the array cv2 decodes (IMREAD_UNCHANGED) with the EXIF orientation
    applied, or InputError. The header is checked against the pixel limit first."""
    import cv2

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image file")
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            header = parse_header(handle)
            if header is not None:
                check_image_pixels(path, header.height, header.width, max_pixels)
                if header.format != "tiff":
                    size = min(size, header.data_end or size, _METADATA_SLACK
                               + 2 * header.height * header.width * header.bytes_per_pixel)
            elif size:
                _check_pixels_with_pillow(path, max_pixels)
            handle.seek(0)
            data = handle.read(size)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(f"{path}: empty file")
    # imdecode on the bytes (not imread on the name): same decoders, but unicode paths work
    # everywhere and an OS error is reported as such instead of as "not an image".
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise InputError(f"{path}: not a readable image (unknown format or corrupt data)")
    if header is None:
        check_image_pixels(path, img.shape[0], img.shape[1], max_pixels)
        return img
    if header.format == "tiff":     # OpenCV's TIFF decoder applies the tag itself
        return img if header.orientation < 5 or img.shape[:2] == header.shape \
            else apply_orientation(img, header.orientation)
    return apply_orientation(img, header.orientation)


def _check_pixels_with_pillow(path: Path, max_pixels: int | None) -> None:
    """The pixel limit for a file whose header degrade does not read, when pillow is there
    (its ``open`` reads the header only)."""
    try:
        from PIL import Image
    except ImportError:     # the decoder's own limit (OpenCV: 2**30 pixels) still applies
        return
    try:
        with Image.open(path) as im:
            width, height = im.size
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: {exc}") from None
    except Exception:       # not an image pillow knows: OpenCV decides
        return
    check_image_pixels(path, height, width, max_pixels)


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """An image as stored -> as displayed for EXIF orientation 1-8, the transforms of
    OpenCV's ``ApplyExifOrientation`` (flips about the vertical, both, horizontal axis;
    5-8: transpose first). ``img`` is (H, W) or (H, W, C)."""
    if orientation >= 5:
        img = img.swapaxes(0, 1)
    flip = {2: (slice(None), slice(None, None, -1)), 3: (slice(None, None, -1),) * 2,
            4: (slice(None, None, -1),), 6: (slice(None), slice(None, None, -1)),
            7: (slice(None, None, -1),) * 2, 8: (slice(None, None, -1),)}.get(orientation)
    if flip is not None:
        img = img[flip]
    return np.ascontiguousarray(img) if orientation != 1 else img


def _to_rgb_float(img: np.ndarray, path: Path) -> np.ndarray:
    """Apply the module's read policy (see the module docstring) to a decoded array."""
    import cv2

    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels not in (1, 2, 3, 4):
        raise InputError(f"{path}: has {channels} channels; expected 1 (gray), 2 (gray + alpha), "
                         "3 (colour) or 4 (colour + alpha)")
    if img.dtype in _SCALE:
        out = img.astype(np.float32) / np.float32(_SCALE[img.dtype])   # exact x/255, as ops.jpeg
    elif img.dtype.kind == "f":
        out = img.astype(np.float32)
        if not np.isfinite(out).all():
            raise InputError(f"{path}: floating-point image contains NaN or infinite values")
        np.clip(out, 0.0, 1.0, out=out)
    else:
        raise InputError(f"{path}: unsupported sample type {img.dtype}; expected 8- or 16-bit "
                         "unsigned integers or floating point")
    if channels <= 2:                                   # gray (+ alpha): replicate gray
        out = np.repeat(out[:, :, :1], 3, axis=2)
    else:                                               # BGR(A) -> RGB, alpha dropped
        out = cv2.cvtColor(np.ascontiguousarray(out[:, :, :3]), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out, dtype=np.float32)


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1], EXIF orientation applied.

    Parameters
    ----------
    path : str or path-like
        A PNG, JPEG, TIFF, BMP or WebP file (anything OpenCV decodes).
    max_pixels : int or None
        Refuse images with more pixels (checked from the header, before decoding); 0: no
        limit; None: the ``DEGRADE_MAX_IMAGE_PIXELS`` environment variable, else 89 478 485
        (Pillow's default).

    Returns
    -------
    ndarray, float32, (H, W, 3), C-contiguous, RGB, values in [0, 1]. See the module
    docstring for the conversion of each stored type (8-bit ``/255``, 16-bit ``/65535``,
    float clipped to [0, 1], gray replicated, alpha dropped).

    Raises
    ------
    InputError
        Missing file, a directory, an unreadable or empty file, more pixels than the
        limit, data that is not a decodable image, an unsupported sample type or channel
        count, or a float image with NaN/inf. The message starts with the path.

    Examples
    --------
    >>> from degrade.sources import sample_paths
    >>> read_image(sample_paths()[0]).dtype
    dtype('float32')
    """
    path = Path(path)
    return _to_rgb_float(_decode(path, max_pixels), path)


def write_image(path: str | os.PathLike, image: np.ndarray, *, bits: int = 8,
                quality: int = 95) -> Path:
    """Write a [0, 1] RGB (or gray) float image, quantised to 8 or 16 bits.

    Parameters
    ----------
    path : str or path-like
        Output file; its extension picks the format (one of ``IMAGE_EXTENSIONS``). The
        folder must exist.
    image : ndarray, (H, W, 3) RGB or (H, W) gray, values in [0, 1]
        Values are clipped to [0, 1] and rounded: ``round(clip(x) * (2**bits - 1))``.
    bits : {8, 16}
        Sample depth; 16 needs a PNG or TIFF file.
    quality : int
        JPEG / WebP quality (ignored for the other formats).

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    ParameterError
        Bad image array, unknown extension, 16 bits for a format that has no 16-bit mode.
    DegradeError
        The file cannot be written (missing folder, permissions, encoder failure).

    Notes
    -----
    ``read_image(write_image(p, x, bits=b))`` returns ``x`` to within half a quantisation
    step, ``0.5 / (2**b - 1)``, for lossless formats (PNG, TIFF, BMP).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.png"
    >>> write_image(p, np.full((4, 4, 3), 0.5, np.float32)).name
    'x.png'
    """
    import cv2

    path = Path(path)
    img = as_image(image, op="write_image", allow_2d=True)
    check_choice("bits", bits, (8, 16), op="write_image")
    quality = check_scalar("quality", quality, op="write_image", integer=True, low=0, high=100)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ParameterError(f"write_image: {path}: unknown image extension {path.suffix!r}; "
                             f"expected one of {', '.join(IMAGE_EXTENSIONS)}")
    if bits == 16 and ext not in SIXTEEN_BIT_EXTENSIONS:
        raise ParameterError(f"write_image: {path}: bits=16 needs a PNG or TIFF file, "
                             f"not {path.suffix!r}")
    peak, dtype = (65535.0, np.uint16) if bits == 16 else (255.0, np.uint8)
    quantised = np.rint(np.clip(img, 0.0, 1.0) * peak).astype(dtype)
    if quantised.ndim == 3:
        quantised = cv2.cvtColor(quantised, cv2.COLOR_RGB2BGR)
    options = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else (
        [cv2.IMWRITE_WEBP_QUALITY, quality] if ext == ".webp" else [])
    ok, buf = cv2.imencode(ext, quantised, options)
    if not ok:
        raise DegradeError(f"write_image: {path}: OpenCV could not encode a {ext} image")
    try:
        path.write_bytes(buf.tobytes())
    except OSError as exc:
        raise DegradeError(f"write_image: {path}: cannot write ({exc.strerror or exc})") from None
    return path


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files in ``folder``, in a stable order.

    Parameters
    ----------
    folder : str or path-like
        Folder to search.
    recursive : bool
        Also search sub-folders (symbolic links to folders are not followed).

    Returns
    -------
    list of Path
        ``folder / relative_path`` for every file whose extension is in
        ``IMAGE_EXTENSIONS`` (any case: ``.JPG`` counts), sorted by the relative path in
        POSIX form (plain code-point order, the same on every OS and file system).
        Hidden files and folders (name starting with ``.``, e.g. macOS ``._x.jpg``
        resource forks) are skipped. An empty list when nothing matches.

    Raises
    ------
    InputError
        ``folder`` does not exist or is not a folder.

    Examples
    --------
    >>> from degrade.sources.samples import SAMPLES_DIR
    >>> [p.name for p in list_images(SAMPLES_DIR)][:2]
    ['chart.png', 'colorchecker.png']
    """
    root = Path(folder)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: is a file, not a folder")
    from .listing import list_files        # (listing imports this module)
    return list_files(root, IMAGE_EXTENSIONS, recursive)
