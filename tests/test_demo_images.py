"""The convolution demo photos at the top of the repository, and the script that makes them."""

import importlib.util
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, shape", [("kitten.jpg", (266, 400, 3)), ("puppy.jpg", (400, 400, 3))])
def test_demo_image_is_uint8_rgb(name, shape):
    image = iio.imread(REPO / name)
    assert image.shape == shape and image.dtype == np.uint8
    assert 20 < image.std() and 40 < image.mean() < 220  # a real photo, not a blank frame


def _script():
    spec = importlib.util.spec_from_file_location("make_demo_images",
                                                  REPO / "tools" / "make_demo_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, source, make", [
    ("kitten.jpg", "chelsea_cat_skimage.png", "make_kitten"),
    ("puppy.jpg", "dog_darknet.jpg", "make_puppy"),
])
def test_script_reproduces_the_committed_image(name, source, make, photos_dir):
    script = _script()
    expected = getattr(script, make)(script.read_rgb(photos_dir / source)).astype(np.float64)
    committed = iio.imread(REPO / name).astype(np.float64)
    assert committed.shape == expected.shape
    assert np.abs(committed - expected).mean() < 3  # only JPEG loss separates them
