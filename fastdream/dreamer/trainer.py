"""The dreamer's trainer on the shared loop: its network, a step, validation and the checkpoint."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fastdream._checks import torch_seed
from fastdream.dreamer import data, network
from fastdream.dreamer import options as O
from fastdream.models.dreamer import FORMAT, VERSION
from fastdream.training import Dist, Trainer, TrainingError, check_optimizer, load_weights, resumed

#: The learning rate follows a cosine from ``lr`` down to ``lr * MIN_LR_FRACTION``.
MIN_LR_FRACTION = 0.02
#: Pictures of each subject whose statistics the checkpoint keeps (more add little).
STATS_PER_SUBJECT = 48
DROPOUT = 0.2
LABEL_SMOOTHING = 0.1


class DreamerTrainingError(TrainingError):
    """Training diverged (a NaN or infinite loss) and was stopped; the last good checkpoint is kept."""


def _seed(*parts: int) -> int:
    s = 0
    for p in parts:
        s = (s * 1_000_003 + int(p)) % 2**63
    return s


class DreamerTrainer(Trainer):
    """Cross-entropy (label-smoothed) on augmented views drawn equally from every subject, plus
    ``keep`` times the distance of the learning blocks' features from their ImageNet originals;
    AdamW on a cosine learning rate; validation accuracy on held-out pictures after every epoch."""

    name, error = "train_dreamer", DreamerTrainingError
    labels, keys = ("loss", "acc"), ("loss", "acc")
    unit = "batch"

    def __init__(self, pictures, train, val, path, c: dict, state, dist: Dist, dev):
        """``pictures``: per subject, its decoded pictures; ``train``/``val``: (subject, picture) pairs."""
        self.c, self.path, self.dist, self.device = c, path, dist, dev
        self.hint = "Try a lower lr or keep"  # keep weighs the pull toward ImageNet's features
        self.pictures, self.train, self.val = pictures, train, val
        self.counts = [sum(1 for k, _ in train if k == s) for s in range(len(pictures))]
        self.by_subject = [[i for k, i in train if k == s] for s in range(len(pictures))]
        self.model = network.build(c["subjects"], c["seed"]).to(dev)
        first = c["tune_from"]
        head, blocks = network.set_learning(self.model, first)
        self.opt = torch.optim.AdamW(
            [{"params": head, "factor": 1.0}, {"params": blocks, "factor": c["backbone_lr"]}],
            lr=c["lr"],
            weight_decay=c["weight_decay"],
        )
        self.teacher = network.teacher(self.model, first).to(dev) if c["keep"] > 0 else None
        self.mean = torch.tensor(self.model.input_mean, device=dev).view(1, 3, 1, 1)
        self.std = torch.tensor(self.model.input_std, device=dev).view(1, 3, 1, 1)
        self.start, self.history, self.metrics, self.stats = 0, [], {}, {}
        if state is not None:
            with resumed(path, "out_path"):  # weights or optimizer state of another network: one line
                load_weights(self.model, state["model"], path, "out_path", "model")
                self.opt.load_state_dict(state["optimizer"])
                check_optimizer(self.opt, path, "out_path")
            for g in self.opt.param_groups:  # (the loaded state brought back the stored one; the lr is set each step)
                g["weight_decay"] = c["weight_decay"]
            self.start, self.history = int(state["epoch"]), list(state.get("history", []))
            self.metrics, self.stats = dict(state.get("metrics", {})), dict(state.get("stats", {}))
        self.net = dist.wrap(network.Tail(self.model, first), dev)
        self.iters = math.ceil(len(data.epoch_order(self.counts, 0, 0, dist.rank, dist.world)) / c["batch_size"])

    def batches(self, epoch):
        c, rank = self.c, self.dist.rank
        order = data.epoch_order(self.counts, c["seed"], epoch, rank, self.dist.world)
        self.drop = torch.Generator(device=self.device).manual_seed(
            torch_seed(_seed(c["seed"], epoch, rank, 1), of=c["seed"])
        )
        for b in range(0, len(order), c["batch_size"]):
            views, labels = [], []
            for j, (k, i) in enumerate(order[b : b + c["batch_size"]]):
                gen = torch.Generator().manual_seed(torch_seed(_seed(c["seed"], epoch, rank, b + j), of=c["seed"]))
                views.append(data.view(self.pictures[k][self.by_subject[k][i]], c["image_size"], gen))
                labels.append(k)
            yield torch.stack(views), torch.tensor(labels)

    def step(self, batch, progress):
        c = self.c
        lr = c["lr"] * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        for g in self.opt.param_groups:
            g["lr"] = lr * g["factor"]
        x = (batch[0].to(self.device) - self.mean) / self.std
        y = batch[1].to(self.device)
        h = network.prefix(self.model, x.contiguous(memory_format=torch.channels_last), c["tune_from"])
        keep = torch.rand(x.shape[0], 1280, generator=self.drop, device=self.device) >= DROPOUT
        logits, feats = self.net(h, keep.float() / (1 - DROPOUT))
        loss = F.cross_entropy(logits.float(), y, label_smoothing=LABEL_SMOOTHING)
        if self.teacher is not None:
            loss = loss + c["keep"] * self._feature_distance(h, feats)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.lr = lr
        acc = (logits.argmax(1) == y).float().mean()
        return torch.stack([loss.detach(), acc.detach()])

    def _feature_distance(self, h, feats) -> torch.Tensor:
        """Mean over the learning blocks of |f - f0|^2 / |f0|^2 (f0: the ImageNet block's output)."""
        total = h.new_zeros(())
        with torch.no_grad():
            refs = []
            for block in self.teacher:
                h = block(h)
                refs.append(h)
        for f, r in zip(feats, refs):
            total = total + (f.float() - r.float()).square().mean() / r.float().square().mean().clamp_min(1e-8)
        return total / len(feats)

    def postfix(self, values):
        shown = dict(loss=f"{values['loss']:.3f}")
        if "val_acc" in self.metrics:  # measured at each epoch's end: none to show in the first
            shown["val_acc"] = f"{self.metrics['val_acc']:.3f}"
        return shown

    def _views(self, pairs) -> tuple[list, list]:
        size = self.c["image_size"]
        return [
            (data.view(self.pictures[k][i], size, None) - self.mean[0].cpu()) / self.std[0].cpu() for k, i in pairs
        ], [k for k, _ in pairs]

    @torch.no_grad()
    def end_epoch(self, epoch, means):
        """Validation (accuracy overall and per subject, loss) and the subjects' channel statistics."""
        dist, n_subjects = self.dist, len(self.pictures)
        sums = torch.zeros(2 * n_subjects + 1, dtype=torch.float64)  # correct per subject, count, loss sum
        views, labels = self._views(self.val[dist.rank :: dist.world])
        for b in range(0, len(views), 32):
            x = torch.stack(views[b : b + 32]).to(self.device, memory_format=torch.channels_last)
            y = torch.tensor(labels[b : b + 32], device=self.device)
            logits = self.model(x).float()
            sums[-1] += F.cross_entropy(logits, y, reduction="sum").item()
            for s, ok in zip(y.tolist(), (logits.argmax(1) == y).tolist()):
                sums[s] += ok
                sums[n_subjects + s] += 1
        dist.sum(sums)
        count = sums[n_subjects:-1].clamp_min(1)
        per = (sums[:n_subjects] / count).tolist()
        self.metrics = dict(
            loss=means["loss"],
            val_acc=sums[:n_subjects].sum().item() / count.sum().item(),
            val_balanced_acc=sum(per) / n_subjects,
            val_loss=sums[-1].item() / count.sum().item(),
            val_acc_per_subject=dict(zip(self.c["subjects"], per)),
        )
        if dist.main:
            picks = [(k, i) for k in range(n_subjects) for i in self.by_subject[k][:STATS_PER_SUBJECT]]
            views, labels = self._views(picks)
            r = self.c["recipe"]
            self.stats = network.subject_stats(
                self.model,
                views,
                labels,
                O.stat_layers(r),
                exemplars=r["exemplars"],
                seed=self.c["seed"],
                device=self.device,
            )
        return dict(lr=self.lr, **{k: v for k, v in self.metrics.items() if k != "loss"})

    def state(self, epochs_done):
        c = self.c
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": epochs_done,
            "subjects": list(c["subjects"]),
            "input": dict(
                mean=list(self.model.input_mean), std=list(self.model.input_std), image_size=c["image_size"], rgb=True
            ),
            "config": c,
            "recipe": c["recipe"],
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "stats": self.stats,
            "dream_settings": dict(O.DREAM_SETTINGS),
            "metrics": self.metrics,
            "history": self.history,
            "val_files": c["val_files"],
        }

    def summary(self):
        c, m = self.c, self.metrics
        done = self.history[-1]["epoch"] if self.history else self.start
        skipped = f"; skipped {c['skipped']}" if c.get("skipped") else ""
        accuracy = f"val accuracy {m['val_acc']:.3f}" if "val_acc" in m else "not validated yet"
        return (
            f"train_dreamer: {len(c['subjects'])} subjects, {c['images']} images ({c['train']} train, {c['val']} val)"
            f"{skipped}; epoch {done}/{c['epochs']}: {accuracy}; checkpoint {self.path}"
        )
