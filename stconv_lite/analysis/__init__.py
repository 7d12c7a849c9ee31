"""stconv_lite.analysis."""
