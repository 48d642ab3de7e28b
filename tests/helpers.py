"""Helpers shared by the trainer tests: small image folders and the tiny settings of each trainer."""

import numpy as np
from PIL import Image

GAN_TINY = dict(image_size=32, nz=8, ngf=4, ndf=4, batch_size=4, progress=False)
UNET_TINY = dict(image_size=32, base_channels=8, depth=2, batch_size=4, progress=False)


def write_image_folder(root, n=8):
    """n small images of mixed modes, formats, sizes, in a nested folder (and a file that is not
    an image)."""
    rng = np.random.default_rng(0)
    (root / "nested" / "deeper").mkdir(parents=True)
    for i in range(n):
        h, w = 36 + 3 * i, 48 - 2 * i  # non-square, some smaller than the training size's crop
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(arr)
        kind = i % 4
        if kind == 0:
            im.convert("L").save(root / f"gray_{i}.png")
        elif kind == 1:
            im.save(root / "nested" / f"rgb_{i}.jpg")
        elif kind == 2:
            im.convert("RGBA").save(root / "nested" / "deeper" / f"rgba_{i}.png")
        else:
            im.convert("P").save(root / f"palette_{i}.bmp")
    (root / "notes.txt").write_text("not an image")
    return root


VAE_TINY = dict(image_size=32, latent_dim=8, base_channels=8, batch_size=4, progress=False)
