"""stconv_lite.viz."""
