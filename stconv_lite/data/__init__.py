"""stconv_lite.data."""
