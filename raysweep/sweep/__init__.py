"""What the user asked for: the sweep file read, checked and turned into typed values.

``yamlfile`` (safe YAML with line numbers) -> ``config`` (``SweepConfig``, every problem at
once) -> ``space`` (W&B distributions, nested parameters) and ``command`` (W&B macros -> argv).
Ray-free and cheap to import: ``raysweep validate`` and ``preview`` need nothing else.
"""

__all__: list[str] = []
