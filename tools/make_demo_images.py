"""Rebuild kitten.jpg and puppy.jpg (the convolution demo photos) from their source photos.

Sources and licences are listed in NOTICE.md. Usage:

    python tools/make_demo_images.py [--photos ../shared/photos] [--out .]

The photos folder defaults to shared/photos beside the repository.
"""

import argparse
import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

KITTEN_SIZE = (400, 266)  # (width, height): Chelsea 451x300 scaled down, aspect ratio kept
# (left, top, right, bottom) in dog_darknet.jpg (768x576): the dog sits at about x 110..350,
# y 200..550; this 400x400 square holds it with a margin and is kept at full resolution.
PUPPY_BOX = (30, 170, 430, 570)
JPEG_QUALITY = 90
SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"


def make_kitten(photo):
    """(300, 451, 3) uint8 -> (266, 400, 3) uint8."""
    return np.asarray(Image.fromarray(photo).resize(KITTEN_SIZE, Image.Resampling.LANCZOS))


def make_puppy(photo):
    """(576, 768, 3) uint8 -> (400, 400, 3) uint8 square around the dog."""
    return np.asarray(Image.fromarray(photo).crop(PUPPY_BOX))


def read_rgb(path):
    image = iio.imread(path)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit RGB(A) photo, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


def save_jpeg(image, path):
    """Write atomically: a temp file in the same folder, then os.replace."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".jpg.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(image).save(f, format="JPEG", quality=JPEG_QUALITY)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=SHARED_PHOTOS,
                        help="folder with chelsea_cat_skimage.png and dog_darknet.jpg")
    parser.add_argument("--out", type=Path, default=repo, help="where to write the two JPEGs")
    args = parser.parse_args(argv)
    for name, source, make in (("kitten.jpg", "chelsea_cat_skimage.png", make_kitten),
                               ("puppy.jpg", "dog_darknet.jpg", make_puppy)):
        image = make(read_rgb(args.photos / source))
        save_jpeg(image, args.out / name)
        print(f"{args.out / name}: {image.shape[1]}x{image.shape[0]} from {source}")


if __name__ == "__main__":
    main()
