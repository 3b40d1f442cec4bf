"""What a sweep found: the sweep directory read back as tables, figures and a report.

``tables`` (``SweepResult``: trials and history DataFrames) feeds ``figures`` and
``importance``, which ``report`` assembles into one HTML file; ``live`` is the terminal view
while a sweep runs. (Named ``analysis``, not ``results``, because ``raysweep.results`` is the
public function that loads a sweep.)
"""

__all__: list[str] = []
