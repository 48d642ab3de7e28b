r"""Background removal: train a U-Net on your images and masks, predict masks, cut out to RGBA.

:func:`train_unet` trains a :class:`~fastdream.models.unet.UNet` (plain, or on the pretrained
EfficientNet-Lite0 encoder) on a folder of images and a folder of masks paired by file name;
:func:`load_unet` reads the checkpoint back; :func:`predict_mask` gives the foreground probability
of an image at its full size and :func:`cutout` an RGBA image (or the mask as an ``L`` image).
:func:`make_cutout_dataset` writes a synthetic dataset with exact masks.

Parts: ``masks`` (the mask-file rule, working sizes), ``pairs`` (pairing, checks, the crop
dataset and its augmentations), ``options`` (the trainer's settings), ``train`` (the trainer),
``predict`` (inference, folders), ``refine`` (edges at full resolution, decontamination),
``synthetic`` (the data generator).

**Resolution.** Everything happens at a *working size* (:func:`working_size`): the image scaled
so its short side is the training resolution (kept in the checkpoint), the long side capped at
``MAX_ASPECT`` times that. Validation runs on whole images at that size; inference predicts on a
copy at that size and upsamples the mask; training crops show the same scale, or up to 1.5 times
closer.

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.unet", version 1, epoch (completed epochs),
    config {model {in_channels, out_channels, base_channels, depth, bilinear, encoder}, image_size,
            epochs, batch_size, lr, val_split, seed, amp, world_size, pairs, train, val,
            skipped_unpaired, skipped_bad},
    model (state dict), optimizer, scaler, metrics {loss, val_loss, val_iou, val_dice} (last epoch),
    history [{epoch, loss, val_loss, val_iou, val_dice, lr, iterations, seconds}], val_keys

Examples:
    >>> import fastdream as fd                                                  # doctest: +SKIP
    >>> ckpt = fd.train_unet("photos/", "masks/", "unet.pt", epochs=30)         # doctest: +SKIP
    >>> fd.cutout("portrait.jpg", ckpt).save("portrait.png")                    # doctest: +SKIP
"""

from fastdream.cutout.folder import cutout_folder, loses_alpha
from fastdream.cutout.masks import DEFAULT_RESOLUTION, MAX_ASPECT, read_mask, working_size
from fastdream.cutout.predict import cutout, load_unet, predict_mask
from fastdream.cutout.synthetic import CutoutDataset, make_cutout_dataset
from fastdream.cutout.train import UNetTrainingError, train_unet

__all__ = [
    "DEFAULT_RESOLUTION",
    "MAX_ASPECT",
    "CutoutDataset",
    "UNetTrainingError",
    "cutout",
    "cutout_folder",
    "load_unet",
    "loses_alpha",
    "make_cutout_dataset",
    "predict_mask",
    "read_mask",
    "train_unet",
    "working_size",
]
