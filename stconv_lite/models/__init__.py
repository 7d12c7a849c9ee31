"""The networks of the book. Create them by name: ``create(name, num_classes, in_channels)``."""

from stconv_lite.models.registry import available, create, register

__all__ = ["available", "create", "register"]
