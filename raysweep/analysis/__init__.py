"""What a sweep found: the sweep directory read back as tables, figures and a report.

``tables`` (``SweepResult``: the trials table) and ``history`` (one row per report) read the
directory; ``figures`` draws them, with ``importance`` for the importance panel and
``display`` for the choices figures and ``report`` share; ``report`` assembles one HTML file;
``live`` is the terminal view while a sweep runs. ``SweepResult``'s plot methods call
``figures`` and ``report``, which take a result without importing ``tables``, so no import
runs back. (Named ``analysis``, not ``results``, because ``raysweep.results`` is the public
function that loads a sweep.)
"""

__all__: list[str] = []
