"""Synthetic herbarium-sheet and microscope-slide frames with pixel-exact class maps.

from training.synth import generate
s = generate(seed=7)            # s.image (BGR uint8), s.mask (class ids 0..7), s.kind, s.barcodes
"""

from .compose import Sample, generate

__all__ = ["Sample", "generate"]
