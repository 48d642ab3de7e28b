r"""Dream your own subjects: fine-tune the dream network on folders of your pictures, then dream
them into any image, video or zoom.

:func:`train_dreamer` fine-tunes the pretrained EfficientNet-Lite0 on one folder per subject;
:func:`fastdream.models.load` reads the checkpoint back as a
:class:`~fastdream.models.dreamer.Dreamer`; ``fastdream.dream(image, model=m, subject="NAME")``
grows that subject in the image (:func:`fastdream.dream.subjects.subject` is the objective).

Parts: ``data`` (the subject folders, the split, balanced epochs, augmented views), ``network``
(the frozen prefix, the learning tail, the subjects' statistics), ``options`` (the settings and
the recipe's defaults), ``trainer`` (the trainer on the shared loop), ``train``
(:func:`train_dreamer`), ``sheet`` (:func:`subject_sheet`: the contact sheet), ``samples``
(:func:`make_subject_folders`: subject folders cut from a few pictures).

Checkpoint layout (a plain dict, loadable with ``torch.load(..., weights_only=True)``)::

    format "fastdream.dreamer", version 1, epoch, subjects [names, in the outputs' order],
    input {mean, std, image_size, rgb}, recipe {guide, texture, channels, channel_count, logit,
    exemplars}, dream_settings {octaves, steps, step_size, norm},
    config {epochs, image_size, batch_size, lr, backbone_lr, weight_decay, tune_from, keep,
            subjects, counts, images, train, val, seed, val_split, recipe, augment, skipped,
            world_size, val_files},
    model (EfficientNet-Lite0 state dict, one output per subject), optimizer,
    stats {layer: {means (S, C), std (C,), gram (S, C, C), exemplars (S, M, C) float16}}, metrics {val_acc, val_balanced_acc, val_loss,
    val_acc_per_subject}, history [{epoch, loss, acc, iterations, lr, val_..., seconds}], val_files
"""

from fastdream.dreamer.samples import make_subject_folders
from fastdream.dreamer.sheet import subject_sheet
from fastdream.dreamer.train import train_dreamer
from fastdream.dreamer.trainer import DreamerTrainingError

__all__ = ["DreamerTrainingError", "make_subject_folders", "subject_sheet", "train_dreamer"]
