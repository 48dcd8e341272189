"""specimen-edge: quality control for museum digitisation lines, beside the camera."""

__version__ = "0.1.0"
