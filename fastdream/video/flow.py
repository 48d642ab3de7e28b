"""Optical flow between consecutive frames, for dreams that move with the scene.

OpenCV's DIS flow (Kroeger et al. 2016; ``opencv-python-headless``, the ``video`` extra): fast and
dense. ``carry(prev_dream, prev, cur)`` moves the previous dreamed frame to where its content is
in the current frame, and says which pixels have no trustworthy source: those whose forward and
backward flows disagree (occluded or uncovered) and those that come from outside the previous frame,
which then take the current frame instead.
"""

from __future__ import annotations

import numpy as np

#: Pixels whose forward-backward round trip misses by more than this (plus a share of the motion)
#: count as occluded.
OCCLUSION_PX = 1.0
OCCLUSION_SHARE = 0.05


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ModuleNotFoundError(
            "following the motion between frames (flow=True) needs OpenCV, which is not installed; install the "
            "extra with `pip install 'fastdream[video]'`, or pass flow=False (--no-flow) to do without it",
            name="cv2",
        ) from None
    return cv2


#: OpenCV's DIS flow refuses frames with a side under this.
MIN_SIDE = 12
#: DIS (OpenCV 5.1) crashes the process (a segfault), or fails an assertion, on frames whose short
#: side is under this and whose long side is three times it or more (a 256x16 strip): its pyramid
#: takes its depth from the long side. Such frames are padded to it (edges repeated) for the flow,
#: which is cut back (scanned: every short side 12-31 with long sides up to 64x, both presets).
SAFE_SIDE = 32


class Flow:
    """Dense flow between RGB uint8 frames (H, W, 3), with reused DIS instances: the medium preset
    for the flow that moves the dream, the fast one (4x cheaper) for the occlusion check, which
    only has to tell large disagreements (bench/RESULTS.md, "Dreaming a video")."""

    def __init__(self, size: tuple[int, int] | None = None):
        if size is not None and min(size) < MIN_SIDE:
            raise ValueError(
                f"flow: frames of {size[0]}x{size[1]} are too small for the optical flow (at least {MIN_SIDE} px "
                "a side); pass flow=False (--no-flow)"
            )
        cv2 = _cv2()
        self.cv2 = cv2
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.dis_check = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self._grid = None

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        return self.cv2.cvtColor(np.ascontiguousarray(rgb), self.cv2.COLOR_RGB2GRAY)

    def between(self, a: np.ndarray, b: np.ndarray, check: bool = False) -> np.ndarray:
        """Flow (H, W, 2) float32 from frame a to frame b: a[y, x] is seen at b[y + f1, x + f0]."""
        ga, gb = self._gray(a), self._gray(b)
        h, w = ga.shape
        down, right = max(0, SAFE_SIDE - h), max(0, SAFE_SIDE - w)
        if down or right:
            ga, gb = (self.cv2.copyMakeBorder(g, 0, down, 0, right, self.cv2.BORDER_REPLICATE) for g in (ga, gb))
        flow = (self.dis_check if check else self.dis).calc(ga, gb, None)
        return np.ascontiguousarray(flow[:h, :w]) if down or right else flow

    def warp(self, image: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
        """``image`` (a frame's worth of pixels) pulled along ``flow_back`` (from the target frame to
        the image's): out[y, x] = image[y + f1, x + f0], bilinear, edges replicated."""
        h, w = flow_back.shape[:2]
        if self._grid is None or self._grid.shape[:2] != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = np.stack([gx, gy], -1)
        maps = self._grid + flow_back
        return self.cv2.remap(image, maps, None, self.cv2.INTER_LINEAR, borderMode=self.cv2.BORDER_REPLICATE)

    def carry(self, prev_dream: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The previous dreamed frame moved onto the current frame, and the mask (H, W) of pixels it
        covers validly (1) or not (0: occluded or uncovered, the forward-backward check)."""
        back = self.between(cur, prev)  # where each current pixel was in the previous frame
        fwd = self.between(prev, cur, check=True)
        moved = self.warp(prev_dream, back)
        # Round trip: current -> previous (back) -> current (fwd at the landing point) should return home.
        fwd_at = self.warp(fwd, back)
        mag = self.cv2.magnitude
        miss = mag(*np.moveaxis(back + fwd_at, -1, 0))
        limit = OCCLUSION_PX + OCCLUSION_SHARE * (mag(*np.moveaxis(back, -1, 0)) + mag(*np.moveaxis(fwd_at, -1, 0)))
        # Pixels that come from outside the previous frame (entering at an edge) have no source:
        # the warp would smear the edge's pixels into them.
        h, w = back.shape[:2]
        src = self._grid + back
        inside = (src[..., 0] >= 0) & (src[..., 0] <= w - 1) & (src[..., 1] >= 0) & (src[..., 1] <= h - 1)
        return moved, ((miss <= limit) & inside).astype(np.float32)
