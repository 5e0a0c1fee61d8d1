"""The application layer: the ``fpsim`` command (``cli``), the report (``report``), its
figures (``plots``) and the progress bar (``progress``). Nothing below imports it."""
