"""Station configurations, shipped as package data `edge.configs`."""
