"""Every use raysweep makes of Ray's private API, in one place.

Ray has no public way to learn what an autoscaler may add to a cluster (``cluster``), nor to
read the rungs of its ASHA scheduler or the results of its median rule (``schedulers``), which
raysweep needs to refuse trials no node will ever fit, to explain early stops and to save the
schedulers' state as JSON for ``raysweep resume``. Both modules were checked against the Ray
minor version ``pyproject.toml`` allows (2.60); a Ray upgrade that changes them breaks here
only. ``tests/test_architecture.py`` checks that no other module reaches into Ray's privates.
"""

__all__: list[str] = []
