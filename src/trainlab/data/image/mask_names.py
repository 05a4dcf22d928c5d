"""How image files and their masks are told apart by name: masks saved beside their images (``camera_mask.png``),
masks named with a word around their image's name or in another case, and folders that hold images (a dataset's
``images/`` beside its ``masks/``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from trainlab.data.image.files import image_suffix, name_stem


def named_apart(image_path: Path, masks: dict[str, list[Path]], images: set[str]) -> str:
    """``"; it holds 'img_0_mask.png', named with '_mask' after the image's name ..."`` for a mask named
    after its image with a word before or after it (``_mask``, ``mask-``), as many tools save them; ``""``
    when no mask is. ``masks`` by name stem; one named after another of the ``images`` (stems) is that
    image's (field_north.png beside field.png), not a misnamed one. A mask of the image's name in another case
    (Field0.npy for field0.fits: a case-blind disk, macOS's or Windows', shows them as one name) is named too."""
    stem = name_stem(image_path)
    for mask in sorted(p for other, ps in masks.items() if other not in images for p in ps):
        other = name_stem(mask)
        if other.casefold() == stem.casefold():
            return (f"; it holds '{mask.name}', the image's name in another case: names are matched exactly, so "
                    f"rename the masks as their images ({stem}{mask.name[len(other):]})")
        after = re.fullmatch(re.escape(stem) + r"([-_. ]+[^\W\d_]\w*)", other)
        before = re.fullmatch(r"([^\W\d_]\w*?[-_. ]+)" + re.escape(stem), other)
        word, where = (after.group(1), "after") if after else (before.group(1), "before") if before else ("", "")
        if word:
            return (f"; it holds '{mask.name}', named with '{word}' {where} the image's name: a mask takes its "
                    f"image's name alone ({stem}{mask.name[len(other):]}), so rename the masks without '{word}'")
    return ""


MASK_WORD = re.compile(r"[-_. ]+(mask|masks|label|labels|seg|segmentation|gt|annotation)", re.IGNORECASE)


def masks_among(files: list[Path]) -> list[tuple[Path, Path]]:
    """(mask, its image) for the files named as another with a mask's word after it (``camera_mask.png`` beside
    ``camera.png``): masks saved in the images' folder."""
    stems = {name_stem(p): p for p in files}
    found = []
    for p in files:
        stem = name_stem(p)
        for word in MASK_WORD.finditer(stem):
            if word.end() == len(stem) and stem[:word.start()] in stems:
                found.append((p, stems[stem[:word.start()]]))
    return found


def holds_images(folder: Path) -> bool:
    """Whether ``folder`` holds an image file (itself, not its folders); one that cannot be listed does not."""
    try:
        return any(image_suffix(p) for p in folder.iterdir())
    except OSError:
        return False


def folder_of_folders_fix(folder: Path, inside: list[str], key: str, masks: Optional[Path]) -> str:
    """The fix of a ``folder`` that holds no image but folders of them (``inside``, sorted), as datasets are laid out
    (``dataset/images`` beside ``dataset/masks``; ``night1/``, ``night2/``): the setting that points at one, with
    ``masks`` (the default mask folder, ``<folder>/masks``, where it exists: beside the images it is no longer
    their default) as data.source.mask_dir. It said to put the images there, as if none had been found."""
    fix = f"point {key} at the folder that holds them: {key}='{folder / inside[0]}'"
    if masks is not None and masks.is_dir():
        fix += f" data.source.mask_dir='{masks}'"
    return fix + (f" (images are read from one folder: move the images of {', '.join(inside)} into one, and their "
                  "masks into one)" if len(inside) > 1 else "")
