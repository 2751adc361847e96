"""The ``barnebot`` command line (Typer)."""
