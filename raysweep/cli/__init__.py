"""The ``raysweep`` command line: the only place that prints (with the live view it shows).

Each command lives in the module of its concern: ``check`` (validate, preview), ``running``
(run, resume, stop, cancel), ``output`` (results, report), ``dashboard``; ``common`` holds what
they share.
"""

from __future__ import annotations

import warnings

import click

from raysweep.cli.check import preview, validate
from raysweep.cli.common import format_warning
from raysweep.cli.dashboard import dashboard
from raysweep.cli.output import report, results
from raysweep.cli.running import cancel, resume, run, stop

__all__ = ["main"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="raysweep", prog_name="raysweep")
def main() -> None:
    """Run Weights & Biases sweep files on your own machines and clusters, on Ray.

    \b
    Typical use:
      raysweep validate sweep.yaml        check a sweep file, show its parameters
      raysweep preview sweep.yaml -n 5    see what the sweep would try, without running
      raysweep run sweep.yaml             run it on a private local Ray
      raysweep run sweep.yaml --address auto   run it on the Ray cluster of this machine
      raysweep results                    the best trials of the latest sweep
      raysweep report --open              its plots in one HTML file
      raysweep dashboard                  every sweep, live, in a browser
    """
    warnings.formatwarning = format_warning


for _command in (validate, preview, run, results, resume, stop, cancel, report, dashboard):
    main.add_command(_command)
