"""Image files read one way for every source: FITS (astropy), NPY, PNG and TIFF (tifffile), one file per name stem,
masks as booleans, a PNG's transparent pixels as missing ones, arrays cast to float32 without losing
their noise.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Optional, Union

import numpy as np

from trainlab.config.errors import UserError, unreadable
from trainlab.data.files import EMPTY_FILE, read_npy

log = logging.getLogger(__name__)


def robust_sigma(values: np.ndarray) -> float:
    """Standard deviation of Gaussian noise estimated from the median absolute deviation (1.4826 MAD)."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


NOISE_KEPT = 0.1  # float32's step at an image's level may be at most this share of its noise (~0.3% more noise)
LEVEL_SAMPLE = 1_000_000  # pixels per channel its level and noise are estimated from


def as_float32(array: np.ndarray, offsets: Optional[dict[str, tuple[float, float, float]]] = None,
               name: str = "") -> np.ndarray:
    """``array`` as float32 (the tiles' and the nets' type) without losing its noise.

    float32 keeps 24 bits: at a level of 1e9 (a float64 image with a large offset, counts on a pedestal) its
    step is 64, and noise of a few units rounds away. Where the step at a channel's median exceeds
    ``NOISE_KEPT`` of its noise (1.4826 MAD), that median is subtracted in float64 before the cast, the
    channel's sky level becoming 0 (the asinh stretch subtracts the training tiles' median and the percentile
    stretch a low percentile after it: what they see is the noise and the sources above the sky). The
    subtraction is recorded in ``offsets`` (name -> level, noise, step) when given (images; masks pass
    None and are cast as they are). Types float32 holds exactly (float32, 8/16-bit integers) and images
    whose noise the step does not reach are cast unchanged.
    """
    if offsets is None or np.can_cast(array.dtype, np.float32):
        return array.astype(np.float32)
    values = array.astype(np.float64)
    for channel in values if values.ndim == 3 else values[None]:  # views: subtracted in place
        finite = channel[np.isfinite(channel)]
        finite = finite[:: max(1, len(finite) // LEVEL_SAMPLE)]
        if not finite.size:
            continue
        level = float(np.median(finite))
        noise = robust_sigma(finite) or float(np.std(finite))
        step = float(np.spacing(np.float32(abs(level))))
        if noise > 0 and step > NOISE_KEPT * noise:
            channel -= level
            if step > offsets.get(name, (0.0, 0.0, 0.0))[2]:  # the channel that lost most, for the log line
                offsets[name] = (level, noise, step)
    return values.astype(np.float32)


# .fits.fz / .fz: tile-compressed FITS (fpack), as survey archives serve images; astropy decompresses them
SUFFIXES = (".fits.gz", ".fits.fz", ".fz", ".fits", ".fit", ".fts", ".npy", ".png", ".tif", ".tiff")


def image_suffix(path: Path) -> Optional[str]:
    """The image suffix of ``path`` (``.fits.gz``, ``.png``, ...); None for another file, and for a hidden one
    (``._a.fits``: the AppleDouble file macOS writes beside ``a.fits`` on other disks and in archives; ``.a.npy``
    an editor's or a sync tool's copy): no image of the user's, and read as one it ended the run."""
    name = path.name.lower()
    return None if name.startswith(".") else next((s for s in SUFFIXES if name.endswith(s)), None)


def name_stem(path: Path) -> str:
    return path.name[: -len(image_suffix(path))]


def one_file_per_stem(files: list[Path], key: str, folder: Path) -> None:
    """Images and masks are matched by name stem: two files with one stem ('a.npy', 'a.fits') would both
    claim one mask (or one image would take either mask), so they are refused."""
    seen: dict[str, Path] = {}
    for path in files:
        other = seen.setdefault(name_stem(path), path)
        if other != path:
            raise UserError(f"{key}='{folder}' holds '{other.name}' and '{path.name}', one name in two files; images "
                            "and masks are matched by name: rename or remove one of them")


def _read_tiff(path: Path, colours: bool = False) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """A TIFF's pages (or samples) as tifffile reads them, less an alpha sample, and that alpha as opacity 0..1
    (None without one): the alpha was read as one more channel, and a mask painted on a transparent layer (its
    empty pixels white, as PNG's often are) as anomalous everywhere. tifffile decodes LZW and JPEG (GIMP's,
    ImageMagick's and Photoshop's default compressions) only with the imagecodecs package, which trainlab does
    not require: such a file is read by Pillow instead, its pages stacked as channels. ``colours``: a palette
    image's indices turned into its colours (3, H, W), 8-bit as a PNG's (read_array's ``palette_indices``)."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        extras, samples = tuple(page.extrasamples or ()), page.samplesperpixel
        palette = page.colormap if page.photometric == tifffile.PHOTOMETRIC.PALETTE else None
    # tifffile's EXTRASAMPLE: 1 associated (premultiplied) alpha, 2 unassociated; 0 is data of no stated kind
    alpha_at = next((samples - len(extras) + i for i, kind in enumerate(extras) if int(kind) in (1, 2)), None)
    try:
        array = tifffile.imread(path)
    except ValueError as exc:
        if "imagecodecs" not in str(exc):
            raise
        from PIL import Image, ImageSequence

        try:
            with Image.open(path) as image:
                pages = [np.asarray(page) for page in ImageSequence.Iterator(image)]
        except (OSError, ValueError):  # what Pillow cannot decode either: tifffile's line names the package
            raise ValueError(f"{exc} (pip install imagecodecs)") from exc
        array = pages[0] if len(pages) == 1 else np.stack(pages)
    if colours and palette is not None and array.ndim == 2:  # indices into a (3, 2**bits) table of 16-bit colours
        table = np.asarray(palette)
        array = (table >> 8 if table.max() > 255 else table).astype(np.uint8)[:, array]  # v*256 or v*257: v
    if alpha_at is None or array.ndim != 3 or samples not in (array.shape[0], array.shape[-1]):
        return array, None
    axis = -1 if array.shape[-1] == samples else 0  # (H, W, samples) as stored, or (samples, H, W): planar
    alpha = np.take(array, alpha_at, axis=axis).astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        alpha /= np.iinfo(array.dtype).max
    return np.delete(array, alpha_at, axis=axis), alpha


def _fits_image(path: Path, hdu: Optional[Union[int, str]], several: Optional[dict[str, list[str]]]) -> np.ndarray:
    """The image of a FITS file: HDU ``hdu`` (its index, or its EXTNAME: the first of that name) or, with None,
    the first image HDU holding data (tables before it, catalogues beside the image, are passed over). A file
    of several image HDUs with data (a camera's chips, SCI/ERR/DQ, two exposures) read at the first has its
    name and those HDUs recorded in ``several`` when given, for one warning naming ``data.source.hdu``."""
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdus:
        filled = [(i, h) for i, h in enumerate(hdus) if h.is_image and h.data is not None and h.data.size]
        listed = ", ".join(f"{i} ({h.name or 'unnamed'})" for i, h in filled) or "none"
        if hdu is None:
            if not filled:
                raise UserError(f"'{path}' holds no image data in any FITS HDU")
            if several is not None and len(filled) > 1:
                several[path.name] = [f"{i} ({h.name or 'unnamed'})" for i, h in filled]
            return np.asarray(filled[0][1].data)
        try:
            chosen = hdus[hdu.upper() if isinstance(hdu, str) else hdu]
        except (KeyError, IndexError):
            raise UserError(f"data.source.hdu={hdu}: '{path.name}' has no HDU {hdu!r}; its image HDUs with data "
                            f"(index, name): {listed}") from None
        if not chosen.is_image or chosen.data is None or not chosen.data.size:
            raise UserError(f"data.source.hdu={hdu}: HDU {hdu!r} of '{path.name}' holds no image data; its image "
                            f"HDUs with data (index, name): {listed}")
        return np.asarray(chosen.data)


PNG_DEPTH = {2: "RGB", 4: "grey + alpha", 6: "RGBA"}  # IHDR colour types Pillow reads at 8 bits when stored at 16


def _refuse_16_bit_colour(path: Path, image) -> None:
    """Pillow reads a 16-bit colour PNG (RGB, RGBA, grey + alpha) at 8 bits, its low byte dropped without a word:
    an image's faint sky flattened to 256 levels, and a mask's 1 read as 0 (clean). 16-bit grey is read whole."""
    if image.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(26)  # signature (8), IHDR length and type (8), width, height (8), bit depth, colour type
        kind = PNG_DEPTH.get(header[25]) if len(header) == 26 and header[24] == 16 else None
        if kind:
            raise UserError(f"'{path}' is a 16-bit {kind} PNG, which Pillow reads at 8 bits (the low 8 bits of every "
                            "value lost); save it as a 16-bit TIFF, FITS or NPY, or one grey 16-bit PNG per channel")


def read_array(path: Path, channels_last: Optional[list[str]] = None, palette_indices: bool = False,
               offsets: Optional[dict[str, tuple[float, float, float]]] = None, key: str = "data.source.path",
               hdu: Optional[Union[int, str]] = None, several: Optional[dict[str, list[str]]] = None,
               types: Optional[dict[str, list[str]]] = None) -> np.ndarray:
    """A FITS, NPY, PNG or TIFF file as a float array, (H, W) or (channels, H, W); ``key``: the setting
    that named its folder, for a refusal of a file this user may not read.

    FITS: HDU ``hdu``, or the first image HDU holding data (:func:`_fits_image`; ``several`` records files
    with more); NPY and TIFF (tifffile, any dtype, pages as channels): as
    stored; PNG and TIFF: grey (8 or 16 bit), RGB, or with a palette
    (turned into its colours, or with ``palette_indices`` kept as the indices, as segmentation masks
    store classes); alpha left out here: :class:`ImageFolder` reads an image's as where it has data
    (:func:`transparent_as_missing`), :func:`read_mask` a mask's as where it is clean. Leading axes of length 1 beyond
    three are dropped ((1, 1, H, W) radio cubes), and (H, W, channels) with at most 4 channels is moved
    channels first (the file's name appended to ``channels_last``). Cast to float32 by :func:`as_float32`
    (a channel's large offset subtracted first, recorded in ``offsets``, when given).
    """
    suffix = image_suffix(path)
    try:
        if not path.stat().st_size:  # each reader said it its own way ('cannot identify image file', 'no NPY')
            raise UserError(f"{key}: '{path}' {EMPTY_FILE}, or remove it")
        if suffix == ".npy":
            array = read_npy(path, key)
        elif suffix in (".tif", ".tiff"):  # pages (or samples) as channels; (H, W, <=4) moved below
            array = _read_tiff(path, colours=not palette_indices)[0]
        elif suffix == ".png":
            from PIL import Image

            with Image.open(path) as image:
                _refuse_16_bit_colour(path, image)
                if image.mode in ("P", "PA") and not palette_indices:  # the values index a colour table
                    image = image.convert("RGBA")
                array = np.asarray(image)
            if array.ndim == 3:  # (H, W, channels) -> (channels, H, W), alpha left out (grey + alpha: LA)
                array = np.moveaxis(array[..., :3] if array.shape[-1] == 4 else array[..., :1] if array.shape[-1] == 2
                                    else array, -1, 0)
        else:
            array = _fits_image(path, hdu, several)
    except UserError:
        raise
    except (OSError, ValueError) as exc:  # tifffile's TiffFileError is a ValueError
        raise unreadable(exc, path, key) or UserError(f"cannot read '{path}' as {suffix[1:]}: {exc}") from exc
    while array.ndim > 3 and array.shape[0] == 1:  # FITS cubes (1, 1, H, W): Stokes and frequency axes of one
        array = array[0]
    if array.ndim not in (2, 3) or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise UserError(f"'{path}' holds a {array.ndim}-D {array.dtype} array {array.shape}; expected a numeric "
                        "image (H, W) or (channels, H, W)")
    if np.iscomplexobj(array):  # the cast to float keeps the real part, with numpy's warning only
        raise UserError(f"'{path}' holds complex values ({array.dtype}); give a real image: its amplitude (np.abs) or "
                        "its real part")
    if not array.size:  # a FITS HDU of NAXISn = 0, an empty array: no tile, and the mask check blamed the mask
        raise UserError(f"'{path}' holds an image of no pixels {array.shape}; give an image, or remove the file")
    if suffix != ".png" and array.ndim == 3 and array.shape[-1] <= 4 < min(array.shape[:2]):
        log.debug("'%s' is %s: read as channels last (H, W, channels)", path.name, array.shape)
        array = np.moveaxis(array, -1, 0)
        if channels_last is not None:
            channels_last.append(path.name)
    if types is not None:  # the type stored, for say_mixed_types: 8- and 16-bit files differ in scale 257 times
        types.setdefault(str(array.dtype), []).append(path.name)
    return as_float32(array, offsets, path.name)


def listing(folder: Path, key: str) -> list[Path]:
    """The entries of ``folder``, sorted; one that cannot be listed (no read permission) is refused naming ``key``."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        from trainlab.run.console import user_name
        from trainlab.run.permissions import let_user

        raise UserError(f"{key}='{folder}' cannot be listed by user '{user_name()}' ({exc.strerror}); "
                        f"{let_user(folder, 'read')}; or give another folder") from None


def png_opacity(path: Path) -> Optional[np.ndarray]:
    """(H, W) opacity 0..1 of a PNG with transparency (an alpha channel, or a palette entry or colour
    declared transparent) or a TIFF with an alpha sample; None for an opaque one or another format."""
    if image_suffix(path) in (".tif", ".tiff"):
        return _read_tiff(path)[1]
    if image_suffix(path) != ".png":
        return None
    from PIL import Image

    with Image.open(path) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return None
        return np.asarray(image.convert("RGBA"))[..., 3] / 255.0


def transparent_as_missing(image: np.ndarray, path: Path) -> tuple[int, int]:
    """A PNG's (or a TIFF's alpha sample's) transparency as where it has data: fully transparent pixels of the (channels, H, W)
    ``image`` become NaN in place (no data, like a mosaic's blank edge: the data module's quality check
    fills them with their tile's median, or drops a tile that is mostly empty), partly transparent ones
    keep their colour. Returns (transparent, partly transparent) pixel counts; (0, 0) for an opaque PNG
    or another format, whose channels are all data."""
    opacity = png_opacity(path)
    if opacity is None:
        return 0, 0
    transparent = opacity == 0
    image[:, transparent] = np.nan
    return int(transparent.sum()), int(((opacity > 0) & (opacity < 1)).sum())


def read_mask(path: Path, several: Optional[dict[str, list[str]]] = None,
              values: Optional[dict[str, np.ndarray]] = None, planes: str = "refuse",
              merged: Optional[dict[str, tuple[int, ...]]] = None) -> np.ndarray:
    """(H, W) bool, True where a pixel is anomalous: any non-zero value (1, 255, True; in any channel).

    A mask must say clean or anomalous for every pixel: NaN (which would read as clean) and fractions
    (0.01 of a soft mask would read as anomalous) are refused with the file named. A PNG's (or TIFF's) transparency
    is honoured: a transparent pixel is clean whatever its colour (a mask painted on a transparent
    layer, whose empty pixels are often white); a partly transparent one that is set (a soft brush's
    edge) is a fraction too. FITS: the first image HDU with data (``several``: as :func:`read_array`'s).
    ``values``, when given, records the non-zero values of a one-channel mask that holds more than one or a
    negative one (classes 1, 2, 3; an 'ignore' of 255 or -1; a soft edge of 1..254 beside 255), each read as
    anomalous. A mask of several planes that are no colours (an NPY or FITS cube, a TIFF of pages: a stack of the
    masks of several images, or one per class) was merged with a warning; its planes are one mask where they are
    all equal, else ``planes`` says: ``refuse`` (data.source.mask_planes' default) names the file, its planes and
    the fix, ``any`` reads a pixel set in any plane as anomalous (its name and shape recorded in ``merged``). A
    colour mask's channels (PNG; TIFF of up to 4) are its paint: any colour that is not black marks a pixel."""
    mask = read_array(path, palette_indices=True, key="data.source.mask_dir", several=several)
    colour = image_suffix(path) == ".png" or (image_suffix(path) in (".tif", ".tiff") and len(mask) <= 4)
    if mask.ndim == 3 and len(mask) > 1 and not colour:
        differ = next((k for k in range(1, len(mask)) if not np.array_equal(mask[k], mask[0], equal_nan=True)), None)
        if differ is None:  # one mask saved several times over: no choice to make
            mask = mask[:1]
        elif planes == "any":
            if merged is not None:
                merged[path.name] = mask.shape
        else:
            raise UserError(f"mask '{path}' holds {len(mask)} planes {mask.shape} that differ (plane {differ} is not "
                            "plane 0): a mask is one plane, of one image; if the planes are the masks of "
                            f"{len(mask)} images, save each image and its mask to files of their own; if they are "
                            "classes or layers of one image's anomalies, set data.source.mask_planes=any to read a "
                            "pixel set in any plane as anomalous")
    bad = ~np.isfinite(mask)
    if bad.any():
        raise UserError(f"mask '{path}' has {int(bad.sum())} NaN/inf pixel(s); write 0 where a pixel is clean and "
                        "1 (or 255) where it is anomalous")
    fraction = mask[mask != np.round(mask)]
    if fraction.size:
        raise UserError(f"mask '{path}' holds fractions (e.g. {float(fraction[0]):.3g}); a mask is 0 where a pixel is "
                        "clean and a whole number (1, 255) where it is anomalous: threshold a soft mask first")
    if values is not None and (mask.ndim == 2 or len(mask) == 1):  # a colour mask's channels differ anyway
        set_values = mask[mask != 0]
        if set_values.size and (set_values.min() != set_values.max() or set_values.min() < 0):
            values[path.name] = np.unique(set_values)
    marked = mask.any(axis=0) if mask.ndim == 3 else mask != 0  # (1, H, W) or a colour PNG: any channel set
    opacity = png_opacity(path)
    if opacity is None:
        return marked
    partly = marked & (opacity > 0) & (opacity < 1)
    if partly.any():
        raise UserError(f"mask '{path}' has {int(partly.sum())} partly transparent pixel(s) that are set (e.g. opacity "
                        f"{float(opacity[partly][0]):.2f}); a mask pixel is transparent (clean) or opaque (read by its "
                        "value): threshold its alpha channel first")
    return marked & (opacity > 0)


# a folder's name that says it holds masks, as tools and hands name them: Masks (Windows), mask, labels, gt,
# SegmentationClass, ground_truth, annotations, masks_png ... (case and a word around it aside)
_MASK_FOLDER = re.compile(r"(?:.*[-_ ])?(?:masks?|labels?|seg(?:mentation)?(?:class|s)?|gts?|ground[-_ ]?truths?|"
                          r"truths?|annotations?)(?:[-_ ].*)?", re.IGNORECASE)


def say_stacks(wide: dict[str, tuple[int, ...]], merged: Optional[dict[str, tuple[int, ...]]] = None) -> None:
    """One warning for the images of more than 4 channels (``wide``: name -> shape), read without a word before: a
    stack of N images saved in one NPY or FITS file (N, H, W) became one image of N channels. A multi-band cube
    (ugriz) is read so rightly. ``merged``: the masks of several planes read as one (data.source.mask_planes=any),
    said in an info line (a mask of differing planes is refused without that setting: :func:`read_mask`)."""
    if wide:
        name, shape = next(iter(wide.items()))
        log.warning("%d image(s) of more than 4 channels (e.g. '%s': %s read as one image of %d channels (bands)); "
                    "if these are %d images, save each to its own file (and its mask beside it in the mask folder)",
                    len(wide), name, shape, shape[0], shape[0])
    if merged:
        name, shape = next(iter(merged.items()))
        log.info("%d mask(s) of several planes (e.g. '%s': %s) read as one, a pixel set in any plane anomalous "
                 "(data.source.mask_planes=any)", len(merged), name, shape)


def say_mixed_types(types: dict[str, list[str]], folder: Path) -> None:
    """One warning for a folder of images stored in integer types of different depths (``types``: type -> file
    names): 8-bit PNGs beside 16-bit ones, whose values run 257 times as high. One normalisation is fit over all
    training tiles, so each kind reaches the net on its own scale (an 8-bit image near flat under a 16-bit one's
    statistics); nothing said so. Floats (FITS, NPY) are in units of their own and are not judged here."""
    depths = {np.dtype(t).itemsize for t in types if np.issubdtype(np.dtype(t), np.integer)}
    if len(depths) > 1:
        shown = "; ".join(f"{np.dtype(t).name}: {len(names)} (e.g. '{names[0]}')"
                          for t, names in sorted(types.items()))
        log.warning("the images of '%s' are stored in types of different scale (%s); one normalisation "
                    "(data.normalize, fit on the training tiles) maps them all, so each kind reaches the net on its "
                    "own scale: save them all at one depth (e.g. all 16-bit), or scale them alike", folder, shown)


def mask_folder_among(folder: Path, stems: set[str]) -> Optional[tuple[Path, int]]:
    """The folder inside ``folder`` that likely holds the images' masks where ``<folder>/masks`` does not exist
    (``Masks``, ``mask``, ``labels``: a mask folder named otherwise), with how many of the image name ``stems``
    have a file there; of several, the one holding most. None where no folder is so named and holds an image file.
    A folder named otherwise (``night2/`` of other images of the same names) is never taken for it."""
    found = []
    for sub in listing(folder, "data.source.path"):
        if sub.is_dir() and not sub.name.startswith(".") and _MASK_FOLDER.fullmatch(sub.name):
            try:
                held = {name_stem(p) for p in sub.iterdir() if p.is_file() and image_suffix(p)}
            except OSError:  # a folder this user cannot list is no candidate to name
                continue
            if held:
                found.append((len(held & stems), sub.name, sub))
    if not found:
        return None
    matched, _, sub = max(found)
    return sub, matched


def mask_folder_refusal(folder: Path, mask_dir: Path, stems: set[str]) -> Optional[UserError]:
    """The refusal of a missing default ``mask_dir`` where the masks are in a folder of another name inside
    ``folder`` (``Masks``, ``mask``, ``labels``), naming it and the setting that reads it; None where none is. It
    was called a folder of images left unread, then the default folder was said to be missing, as if the user had
    made no mask folder at all."""
    found = mask_folder_among(folder, stems)
    if found is None:
        return None
    other, matched = found
    held = (f"{matched} of the {len(stems)} images have a file of their name there" if matched
            else "but no file there is named as an image: a mask takes its image's name")
    return UserError(f"data.source.mask_dir='{mask_dir}' is not a folder; the masks look to be in '{other}' ({held}): "
                     f"set data.source.mask_dir='{other}', or rename that folder '{mask_dir.name}'")
