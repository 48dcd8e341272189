"""`specimen-edge audit`: every frame of an existing collection judged by the station's pipeline, on Ray.

Only `edge.audit.command` (the command line) is imported by `edge.cli`; it loads the modules that need
Ray and pyarrow (the `audit` extra) when the command runs, so the station daemon never imports them.
"""
