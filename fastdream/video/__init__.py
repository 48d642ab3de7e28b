"""Videos: zoom videos (frame n+1 = dream(zoom(frame n))) and dreams of existing videos.

Parts: ``frames`` (frames on disk, the settings file and resume state), ``maker`` (the zoom
video's frame maker: the move between frames and the dream), ``zoom`` (:func:`zoom_video`),
``source`` (input videos: MP4, GIF/WebP, folders of frames), ``flow`` (optical flow and warping),
``coherent`` (:func:`dream_video`: the coherent frame maker), ``styled`` (:func:`style_video`:
styled frames, each from the last one moved by the flow). Encoding is the shared animation writer,
:func:`fastdream.io.write_animation`.
"""

from fastdream.video.coherent import dream_video
from fastdream.video.frames import FRAME_NAME
from fastdream.video.styled import style_video
from fastdream.video.zoom import SETTINGS_NAME, zoom_video

__all__ = ["FRAME_NAME", "SETTINGS_NAME", "dream_video", "style_video", "zoom_video"]
