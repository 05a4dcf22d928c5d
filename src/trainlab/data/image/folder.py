"""Your own sky images and anomaly masks, matched by file name (``data=sky_folder``).

``ImageFolder.load()`` cuts them into :class:`~trainlab.data.image.sources.SkyTiles`, the same tiles the
packaged Hubble source gives, so the data module treats both alike.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np

from trainlab.data.image.files import (SUFFIXES, image_suffix, listing, mask_folder_refusal, name_stem,
                                       one_file_per_stem, read_array, read_mask, say_mixed_types,
                                       say_stacks, transparent_as_missing)
from trainlab.data.image.mask_names import folder_of_folders_fix, holds_images, masks_among, named_apart
from trainlab.data.image.sources import SkyTiles, cut_tiles
from trainlab.config.errors import UserError, require_path, why_missing
from trainlab.data.files import name_as_text

log = logging.getLogger(__name__)


# image formats users bring that are not read (lossy or 8-bit colour only): left out with a warning, and named
# where an image's mask is missing
UNREAD_IMAGES = (".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".webp")
UNREAD_FIX = "FITS, NPY, PNG and TIFF are read; save them as PNG (lossless) to use them"
MISSING_MASKS, MASK_PLANES = ("refuse", "clean"), ("refuse", "any")  # ImageFolder's missing_masks, mask_planes
MISSING_KEY = "data.source.missing_masks"


class ImageFolder:
    """Your own images and anomaly masks, matched by file name.

    Every image in ``path`` (``.fits``, ``.fit``, ``.fts``, ``.fits.gz``, ``.npy``, ``.png``; (H, W),
    channels-first (channels, H, W) or as :func:`read_array` turns; PNG may be grey, RGB or with alpha:
    its transparent pixels are no data, see :func:`transparent_as_missing`)
    needs a mask with the same name stem in ``mask_dir``, in any of those formats: (H, W), a whole
    non-zero value where a pixel is anomalous (all zeros for a clean image; see :func:`read_mask`).
    One name stem in two files is refused; other files are left out and named in a log line. Images with NaN or constant tiles are allowed: the data module
    drops those tiles and reports how many.

    Args:
        path: folder of images.
        mask_dir: folder of masks (null: ``<path>/masks``).
        tile_size: cut each image into tiles of this side, side by side from the top left; where the
            side does not divide the image, a last row and column of tiles flush with its edges
            (overlapping their neighbours) cover the rest, so an anomaly at the edge is never cut
            away; null: use every image whole, which then must all have one size.
        hdu: the HDU of each FITS image to read, by index (1) or EXTNAME (SCI: the first of that name);
            null: the first image HDU with data, and a warning names the files that hold more (a
            camera's chips, SCI/ERR/DQ). Masks are read at their first image HDU with data.
        missing_masks: ``refuse`` (default): an image without a mask is refused, naming every image that
            lacks one; ``clean``: it is read as clean (no anomalous pixel), as surveys that mask only
            their anomalous images leave them, and a warning counts and names them.
        mask_planes: a mask of several planes that differ and are no colours (an NPY or FITS cube, a TIFF of
            more than 4 pages): ``refuse`` (default), naming the file and its planes; ``any``: a pixel set in any
            plane is anomalous. Planes that are all equal are one mask either way; a colour mask's channels are
            its paint (any colour but black marks a pixel).
    """

    # the setting that names the folder, and the fix of a folder without images, as refusals say them
    # (predict.py's images=<folder> words them its own way)
    KEY = "data.source.path"
    NO_IMAGES = "put the images there, their masks in data.source.mask_dir"
    HDU_KEY, HDU_FIX = "data.source.hdu", "choose another with data.source.hdu=<index or EXTNAME>"
    SIZES_FIX = "give images of one size, or cut them into tiles with data.source.tile_size=<side>"

    def __init__(self, path: str, mask_dir: Optional[str] = None, tile_size: Optional[int] = None,
                 hdu: Optional[Union[int, str]] = None, missing_masks: Literal["refuse", "clean"] = "refuse",
                 mask_planes: Literal["refuse", "any"] = "refuse"):
        if tile_size is not None and tile_size < 8:
            raise UserError(f"data.source.tile_size={tile_size} must be at least 8, or null for whole images")
        for key, value, allowed in (("missing_masks", missing_masks, MISSING_MASKS), ("mask_planes", mask_planes,
                                                                                   MASK_PLANES)):
            if value not in allowed:  # the config's values are checked at composition; Python callers here
                raise UserError(f"data.source.{key}={value!r} is not one of {', '.join(allowed)}")
        self.missing_masks, self.mask_planes_read = missing_masks, mask_planes
        self.read_clean: list[str] = []  # images without a mask, read as clean (missing_masks=clean)
        require_path(path, self.KEY, "the folder holding your images")
        self.path = Path(path).expanduser()
        self.mask_dir = Path(mask_dir).expanduser() if mask_dir else self.path / "masks"
        self.mask_dir_given = bool(mask_dir)
        self.tile_size, self.hdu = tile_size, hdu
        self.several: dict[str, dict[str, list[str]]] = {"image": {}, "mask": {}}  # FITS files of several image HDUs
        self.mask_values: dict[str, np.ndarray] = {}  # mask name -> its non-zero values, where it holds several
        self.merged_planes: dict[str, tuple[int, ...]] = {}  # mask name -> its shape, planes merged (mask_planes=any)
        self.unread_masks: dict[str, Path] = {}  # name stem -> a mask file in a format that is not read (im0.jpg)

    def _files(self) -> list[Path]:
        if not self.path.is_dir():
            raise UserError(f"{self.KEY}='{self.path}' is not a folder{why_missing(self.path, self.KEY)}; give the folder "
                            "holding your images")
        listed = listing(self.path, self.KEY)
        files = sorted(p for p in listed if p.is_file() and image_suffix(p))
        others = sorted(p.name for p in listed if p.is_file() and not image_suffix(p) and not p.name.startswith("."))
        unread = [name for name in others if name.lower().endswith(UNREAD_IMAGES)]
        if unread:  # the user's images, left out with the README.txt beside them in an info line
            log.warning("%s='%s': %d image(s) in a format that is not read left out (%s%s): %s", self.KEY, self.path,
                        len(unread), ", ".join(unread[:3]), ", ..." if len(unread) > 3 else "", UNREAD_FIX)
        plain = [name for name in others if name not in unread]
        if plain:
            log.info("%s='%s': %d file(s) that are no image left out (%s%s)", self.KEY, self.path, len(plain),
                     ", ".join(plain[:3]), ", ..." if len(plain) > 3 else "")
        hidden = sorted(p.name for p in listed if p.is_file() and p.name.startswith("."))
        if hidden:  # macOS's ._a.fits beside a.fits, .DS_Store: named, as other files are
            log.info("%s='%s': %d hidden file(s) left out (%s%s)", self.KEY, self.path, len(hidden),
                     ", ".join(hidden[:3]), ", ..." if len(hidden) > 3 else "")
        # folders beside the mask folder (night1/, night2/): not read, which left their images out without a word
        masks = {self.mask_dir.resolve(), (self.path / "masks").resolve()}  # predict.py's images= on a run's folder
        folders = sorted(p.name for p in listed if p.is_dir() and not p.name.startswith(".")
                         and p.resolve() not in masks and holds_images(p))
        inside = (f"{len(folders)} folder(s) of images ({', '.join(folders[:3])}{', ...' if len(folders) > 3 else ''}), "
                  "which are not read: images are read from that folder itself, not its folders")
        one_file_per_stem(files, self.KEY, self.path)
        if not files:
            held = (f", only {len(others)} other file(s) ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''})"
                    if others else "")
            held += f"{' and' if others else ', only'} {inside}" if folders else ""
            fix = f"{UNREAD_FIX}, or {self.NO_IMAGES}" if unread else self.NO_IMAGES
            if folders and not unread:  # dataset/images + dataset/masks: the folder to point at, not files to move
                fix = folder_of_folders_fix(self.path, folders, self.KEY, None if self.mask_dir_given else self.mask_dir)
            raise UserError(f"{self.KEY}='{self.path}' holds no images ({', '.join(SUFFIXES)}){held}; {fix}")
        if not self.mask_dir_given and not self.mask_dir.is_dir():  # Masks/, labels/: named, with the setting
            refusal = mask_folder_refusal(self.path, self.mask_dir, {name_stem(p) for p in files})
            if refusal:
                raise refusal
        if folders:
            log.warning("%s='%s' holds %s", self.KEY, self.path, inside)
        if not self.mask_dir.is_dir():
            # a mask_dir given relative is read from the working folder, as data.source.path is: said so
            where = why_missing(self.mask_dir, "data.source.mask_dir") if self.mask_dir_given else ""
            among = masks_among(files)
            if among:  # camera_mask.png beside camera.png, as many tools save them
                (mask, image), more = among[0], f", and {len(among) - 1} more" if len(among) > 1 else ""
                raise UserError(f"data.source.mask_dir='{self.mask_dir}' is not a folder{where}; the masks are among "
                                f"the images in '{self.path}' ('{mask.name}' beside '{image.name}'{more}): move them "
                                f"into '{self.mask_dir}', each named as its image "
                                f"('{name_stem(image)}{mask.name[len(name_stem(mask)):]}')")
            raise UserError(f"data.source.mask_dir='{self.mask_dir}' is not a folder{where}; make it, with one mask "
                            "per image (same name, all zeros for a clean image), or point mask_dir at yours")
        return files

    def _too_small(self, side: int) -> str:
        """The fix of an image whose shorter ``side`` is under the tile size: the largest tile size it takes (it
        said 'lower the tile size', leaving the user to guess how far), or, one of a larger folder, to move it out."""
        if side < 8:  # under the smallest tile a U-Net is given
            return "move that image out of the folder (tiles are at least 8 px)"
        return f"set data.source.tile_size={side} (its shorter side) or lower, or move that image out of the folder"

    def _masks(self) -> dict[str, list[Path]]:
        """The mask files of ``mask_dir`` by name stem, listed once (listed again for every image, a folder
        of 5,000 images took minutes: each listing stats every mask)."""
        if self.mask_dir.resolve() == self.path.resolve():  # each image its own mask, each mask an image
            raise UserError(f"data.source.mask_dir='{self.mask_dir}' is the folder of the images ({self.KEY}): each "
                            "image would be read as its own mask; put the masks in a folder of their own, each named "
                            f"as its image (the default: '{self.path / 'masks'}')")
        masks: dict[str, list[Path]] = {}
        for p in listing(self.mask_dir, "data.source.mask_dir"):
            if image_suffix(p) and p.is_file():
                masks.setdefault(name_stem(p), []).append(p)
            elif p.name.lower().endswith(UNREAD_IMAGES):  # named in the refusal of its image's missing mask
                self.unread_masks.setdefault(p.stem, p)
        return masks

    def _mask_for(self, image_path: Path, image_shape: tuple[int, ...], masks: dict[str, list[Path]],
                  images: set[str]) -> np.ndarray:
        """``image_path``'s mask among ``masks`` (by name stem); ``images``: the folder's image stems."""
        stem = name_stem(image_path)
        found = masks.get(stem, [])
        if not found and self.missing_masks == "clean":
            self.read_clean.append(image_path.name)
            return np.zeros(image_shape[-2:], dtype=bool)
        if not found:
            unread = self.unread_masks.get(stem)
            why = (f"; it holds '{unread.name}', in a format that is not read: {UNREAD_FIX} (a JPEG's compression "
                   "also turns a mask's 0 and 255 into other values near its edges)" if unread
                   else named_apart(image_path, masks, images))
            # all that lack one, not the first alone: a folder of masks made for the anomalous images only was
            # refused one image at a time
            # a mask misnamed or in a format not read is the fix; with none, the setting that reads them as clean
            clean = f"; or set {MISSING_KEY}=clean to read an image without a mask as clean"
            lacking = sorted(s for s in images if s not in masks)
            count = (f" ({len(lacking)} of the {len(images)} images lack one: {', '.join(lacking[:3])}"
                     f"{', ...' if len(lacking) > 3 else ''})" if len(lacking) > 1 else "")
            raise UserError(f"no mask for image '{image_path.name}' in data.source.mask_dir='{self.mask_dir}' "
                            f"(looked for {stem}{{{','.join(SUFFIXES)}}}); every image needs one, all zeros "
                            f"when it holds no anomaly{count}{why or clean}")
        one_file_per_stem(found, "data.source.mask_dir", self.mask_dir)
        mask = read_mask(found[0], self.several["mask"], self.mask_values, self.mask_planes_read,
                         self.merged_planes)
        if mask.shape != image_shape[-2:]:
            raise UserError(f"mask '{found[0].name}' is {mask.shape[0]}x{mask.shape[1]} but image "
                            f"'{image_path.name}' is {image_shape[-2]}x{image_shape[-1]}; a mask must have "
                            "its image's height and width")
        return mask

    def _say_hdus(self, files: list[Path]) -> None:
        """One warning for the FITS files of several image HDUs read at their first (the others' pixels never
        seen), one for a data.source.hdu that no file of the folder is read with."""
        for role, fix in (("image", self.HDU_FIX), ("mask", "write each mask in a file of one image HDU")):
            several = self.several[role]
            if several:
                name, hdus = next(iter(several.items()))
                log.warning("%d FITS %s file(s) hold several image HDUs with data (e.g. '%s': %s, as index (EXTNAME)); "
                            "the first of each is read: %s", len(several), role, name, ", ".join(hdus), fix)
        if self.hdu is not None and not any(image_suffix(p).startswith((".fits", ".fit", ".fts", ".fz")) for p in files):
            log.warning("%s=%s is not used: '%s' holds no FITS image", self.HDU_KEY, self.hdu, self.path)

    def load(self) -> SkyTiles:
        images, masks, groups, names = [], [], [], []
        first: Optional[tuple[str, tuple[int, ...]]] = None
        channels_last: list[str] = []
        wide: dict[str, tuple[int, ...]] = {}  # name -> shape of an image of more than 4 channels (a stack?)
        see_through: dict[str, tuple[int, int]] = {}  # PNG name -> (transparent, partly transparent) pixels
        offsets: dict[str, tuple[float, float, float]] = {}  # name -> level subtracted, noise, float32 step
        types: dict[str, list[str]] = {}  # the type each image is stored in -> its file names
        files = self._files()
        mask_files, stems = self._masks(), {name_stem(path) for path in files}
        for index, path in enumerate(files):
            image = read_array(path, channels_last, offsets=offsets, key=self.KEY, hdu=self.hdu,
                               several=self.several["image"], types=types)
            image = image[None] if image.ndim == 2 else image  # (channels, H, W)
            if image.shape[0] > 4:
                wide[path.name] = image.shape
            if any(counts := transparent_as_missing(image, path)):
                see_through[path.name] = counts
            mask = self._mask_for(path, image.shape, mask_files, stems)
            if first is None:
                first = (path.name, image.shape)
            elif image.shape[0] != first[1][0]:
                kinds = {1: "grey", 3: "colour (RGB)"}  # a folder of grey and colour PNGs: which to change, and how
                both = (f": save them all in one kind, grey or colour ('{path.name}' is {kinds[image.shape[0]]}, "
                        f"'{first[0]}' {kinds[first[1][0]]}; an image's transparency is no channel)"
                        if {image.shape[0], first[1][0]} == {1, 3} else "")
                raise UserError(f"image '{path.name}' has {image.shape[0]} channel(s) but '{first[0]}' has "
                                f"{first[1][0]}; all images must have the same channels{both}")
            elif self.tile_size is None and image.shape != first[1]:
                raise UserError(f"images differ in size: '{path.name}' is {image.shape[1]}x{image.shape[2]} but "
                                f"'{first[0]}' is {first[1][1]}x{first[1][2]}; {self.SIZES_FIX}")
            if self.tile_size is None:
                pieces = [(0, 0, image)]
            else:
                pieces = cut_tiles(image, self.tile_size, cover=True)
                if not pieces:
                    raise UserError(f"image '{path.name}' ({image.shape[1]}x{image.shape[2]}) is smaller than "
                                    f"data.source.tile_size={self.tile_size}; {self._too_small(min(image.shape[1:]))}")
            for row, col, tile in pieces:
                size = tile.shape[-1]
                images.append(tile)
                masks.append(mask[row : row + tile.shape[-2], col : col + size])
                groups.append(index)
                name = name_as_text(path.name)  # written into csv, npz, json and plots: text, whatever the bytes
                names.append(name if self.tile_size is None else f"{name} y{row} x{col}")
        channels = images[0].shape[0]
        if channels_last:
            log.info("%d image(s) of %s read as channels last (H, W, channels), e.g. '%s'", len(channels_last),
                     self.path, channels_last[0])
        if see_through:
            transparent, partly = (sum(c) for c in zip(*see_through.values()))
            log.info("%d PNG image(s) with transparency (e.g. '%s'): %d fully transparent pixel(s) read as no data "
                     "(NaN: the quality check fills or drops them), %d partly transparent one(s) keep their colour; "
                     "the alpha channel is no image channel", len(see_through), next(iter(see_through)),
                     transparent, partly)
        self._say_hdus(files)
        say_stacks(wide, self.merged_planes)
        say_mixed_types(types, self.path)
        if self.read_clean:  # labels the user did not write: counted and named, once
            log.warning("%d of the %d images have no mask in '%s' and are read as clean (%s=clean): %s%s",
                        len(self.read_clean), len(files), self.mask_dir, MISSING_KEY, ", ".join(self.read_clean[:3]),
                        ", ..." if len(self.read_clean) > 3 else "")
        if self.mask_values:  # classes, an 'ignore' value, a soft edge: all read as anomalous, which may not be meant
            name, found = next(iter(self.mask_values.items()))
            shown = ", ".join(f"{v:g}" for v in found[:6]) + (", ..." if len(found) > 6 else "")
            log.warning("%d mask(s) hold a negative or more than one non-zero value (e.g. '%s': %s); every non-zero pixel is read as "
                        "anomalous: if a value means something else (a class to leave out, 'ignore', a soft edge), write "
                        "0 there, and 1 where a pixel is anomalous", len(self.mask_values), name, shown)
        if offsets:
            name, (level, noise, step) = next(iter(offsets.items()))
            log.info("%d image(s) of %s (e.g. '%s': level %.6g, noise %.3g) lie so far above 0 that float32 would "
                     "keep steps of %.3g: each channel's median was subtracted (float64) before the cast, so the noise "
                     "is kept", len(offsets), self.path, name, level, noise, step)
        log.info("data %s: %d images, %d tiles of %s", self.path, len(set(groups)), len(images), images[0].shape)
        return SkyTiles(self.path.name, np.stack(images), np.stack(masks), np.asarray(groups, dtype=np.int64),
                        names, [f"channel {c}" for c in range(channels)])
