r"""GANs: training on a folder of images, sampling, and latent walks.

:func:`train_gan` trains a :class:`~fastdream.models.dcgan.Generator` /
:class:`~fastdream.models.dcgan.Discriminator` pair on the shared trainer
(:mod:`fastdream.training`), with a recipe that is stable on small datasets by default
(:mod:`fastdream.gan.trainer`). After every epoch it writes a grid of samples from a fixed noise
batch (``samples_epoch_NNN.png``) and one checkpoint (``checkpoint.pt``, replaced atomically), so
a stopped run resumes where the last epoch ended. Under ``torchrun`` it trains with
DistributedDataParallel, one process per GPU (nccl) or several on the CPU (gloo).

:func:`sample_gan` and :func:`latent_walk` turn a checkpoint into PIL images;
:func:`save_animation` writes a walk as a GIF, WebP or MP4.

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.dcgan", version 2, epoch (completed epochs),
    config {image_size, nz, ngf, ndf, nc, recipe, augment, epochs, batch_size, lr, lr_d, beta1,
            kid_samples, seed, amp, world_size, images},
    generator, discriminator, generator_ema (the "stable" recipe) (state dicts), optimizer_g,
    optimizer_d, scaler_g, scaler_d, fixed_noise (64, nz), images_seen,
    history [{epoch, loss_d, loss_g, d_x, d_g_z, iterations, grid (uint8 C x H x W), kid, seconds}]

Version 1 checkpoints (the classic DCGAN of fastdream 0.1.0) are read for sampling.

Examples:
    >>> import fastdream as fd                                                 # doctest: +SKIP
    >>> ckpt = fd.train_gan("faces/", "runs/faces", image_size=64, epochs=25)  # doctest: +SKIP
    >>> images = fd.sample_gan(ckpt, 16, seed=0)                               # doctest: +SKIP
"""

from fastdream.gan.sample import latent_walk, sample_gan, save_animation, slerp
from fastdream.gan.train import CHECKPOINT_NAME, RECIPES, GANTrainingError, train_gan

__all__ = [
    "CHECKPOINT_NAME",
    "RECIPES",
    "GANTrainingError",
    "latent_walk",
    "sample_gan",
    "save_animation",
    "slerp",
    "train_gan",
]
