r"""Variational autoencoders: training on a folder of images, samples, reconstructions, walks.

:func:`train_vae` trains a :class:`~fastdream.models.VAE` on the shared trainer
(:mod:`fastdream.training`); the loss and its choices are explained in ``train.py``.

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.vae", version 1, epoch, config {model {image_size, channels, latent_dim,
    base_channels}, beta, kl_warmup, epochs, batch_size, lr, val_split, seed, amp, images,
    world_size}, model, optimizer, val_files,
    history [{epoch, loss, recon, kl, iterations, val_elbo, val_recon_mse, beta, grid, recon_grid, seconds}]
"""

from fastdream.vae.sample import load_vae, sample_vae, vae_reconstruct, vae_walk
from fastdream.vae.train import CHECKPOINT_NAME, VAETrainingError, train_vae

__all__ = ["CHECKPOINT_NAME", "VAETrainingError", "load_vae", "sample_vae", "train_vae", "vae_reconstruct", "vae_walk"]
