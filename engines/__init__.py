"""The bundled segmenter (ONNX) and its model card, shipped as package data `edge.engines`."""
