"""The networks of the book. Create them by name: ``create(name, num_classes, in_channels)``."""

from stconv_lite.models.registry import available, clip_spec, create, min_clip_size, register, supports_clip

__all__ = ["available", "clip_spec", "create", "min_clip_size", "register", "supports_clip"]
