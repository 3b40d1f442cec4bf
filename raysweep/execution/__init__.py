"""Running a sweep on Ray: the trials, the programs they start, the driver's record of them.

``trainable`` (program and function trials) runs ``process`` (one program, its report lines);
``recorder`` writes what the sweep directory holds; ``control`` answers ``raysweep stop`` /
``cancel``; ``cluster`` and ``slots`` read what the cluster can place.
"""

__all__: list[str] = []
