"""stconv_lite.tools."""
