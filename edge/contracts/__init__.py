"""Public contracts shipped with the package (the verdict JSON schema)."""
