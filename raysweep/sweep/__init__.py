"""What the user asked for: the sweep file read, checked and turned into typed values.

``yamlfile`` (safe YAML with line numbers) -> ``config`` (``load``: every problem at once, by
the private ``_check*`` modules) -> ``model`` (``SweepConfig`` and its parts), whose
``space`` holds W&B's ``distributions`` under nested-parameter paths; ``command`` turns W&B's
macros into argv. ``equality`` and ``bands`` hold rules the rest of raysweep shares: when two
values are equal, W&B's hyperband bands (what a number is: :mod:`raysweep.numeric`).
Ray-free and cheap to import: ``raysweep validate`` and ``preview`` need nothing else.
"""

__all__: list[str] = []
