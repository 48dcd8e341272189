"""The station screen beside the camera and the Prometheus metrics, served over HTTP by the daemon."""
