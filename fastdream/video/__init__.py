"""Videos: zoom videos (frame n+1 = dream(zoom(frame n))).

Parts: ``frames`` (frames on disk, the settings file and resume state), ``maker`` (the frame
maker: the move between frames and the dream), ``zoom`` (:func:`zoom_video`). Encoding is the
shared animation writer, :func:`fastdream.io.write_animation`.
"""

from fastdream.video.frames import FRAME_NAME
from fastdream.video.zoom import SETTINGS_NAME, zoom_video

__all__ = ["FRAME_NAME", "SETTINGS_NAME", "zoom_video"]
