"""The generated scenes' textures: scikit-image's photographs, as a bank, as mip maps for the
shading kernel, and with the contrast of their finest octave (the grain below the texels)."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

TEXTURE_NAMES = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
    "rocket",
    "text",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "colorwheel",
    "cell",
)
TEXTURE_SIZE = 256


@cache
def texture_bank() -> np.ndarray:
    """The scikit-image photographs as textures: N x 256 x 256 x 3 uint8 RGB."""
    import skimage.data

    textures = []
    for name in TEXTURE_NAMES:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        textures.append(
            cv2.resize(
                np.ascontiguousarray(image[..., :3]),
                (TEXTURE_SIZE, TEXTURE_SIZE),
                interpolation=cv2.INTER_AREA,
            )
        )
    return np.stack(textures)


@cache
def texture_mips() -> tuple[np.ndarray, np.ndarray]:
    """texture_bank() as mip maps for the shading kernel: (N x texels x 3 float32, each
    texture's levels 256², 128², ..., 1² packed row-major; the offset of each level). Each
    level is the area average of the one above."""
    levels = [texture_bank().astype(np.float32)]
    while levels[-1].shape[1] > 1:
        above = levels[-1]
        levels.append(
            0.25
            * (
                above[:, 0::2, 0::2]
                + above[:, 1::2, 0::2]
                + above[:, 0::2, 1::2]
                + above[:, 1::2, 1::2]
            )
        )
    count = len(levels[0])
    offsets = np.cumsum([0] + [level.shape[1] ** 2 for level in levels[:-1]])
    packed = np.concatenate([level.reshape(count, -1, 3) for level in levels], axis=1)
    return np.ascontiguousarray(packed), offsets.astype(np.int64)


@cache
def texture_detail_contrast() -> np.ndarray:
    """Per texture, the contrast of its finest octave: the standard deviation of log
    luminance about each 2x2 block's mean. The grain below the texels gets this contrast."""
    luminance = np.log(texture_bank().astype(np.float64).mean(axis=-1) + 4.0)
    count, side = luminance.shape[:2]
    blocks = luminance.reshape(count, side // 2, 2, side // 2, 2).mean(axis=(2, 4))
    finest = luminance - np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    return finest.reshape(count, -1).std(axis=1)
