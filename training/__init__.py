"""Training tools for the segmentation model."""
