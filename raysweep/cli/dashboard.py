"""``raysweep dashboard``: serve the live view of every sweep of some storage folders."""

from __future__ import annotations

import errno
import secrets
import signal
from pathlib import Path

import click

from raysweep.cli.common import escape, fail, make_console


@click.command()
@click.argument("storage", nargs=-1, type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Any but a loopback one (127.0.0.1, localhost) "
                   "needs a token; without --token one is generated and printed.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port to listen on (0: any free one).")
@click.option("--token", default=None,
              help="A secret every request must carry (the printed URL has it as ?token=).")
def dashboard(storage: tuple[str, ...], host: str, port: int, token: str | None) -> None:
    """Show every sweep of the STORAGE folders in a browser, live [default: $RAYSWEEP_STORAGE
    or ./raysweep_results].

    \b
    A sweeps page lists every sweep with its state (running, finished, interrupted, failed),
    method, metric, progress and best value. A sweep's page updates itself while the sweep
    runs: trials, curves, best so far, parallel coordinates and parameter importance (as
    `raysweep report` draws them), each trial's program.log, CSV/Parquet downloads, and
    stop/cancel buttons that do what `raysweep stop`/`cancel` do. Compare puts sweeps side by
    side (best so far, parameter distributions). It reads the sweep folders only: run it
    wherever they are visible, whether or not a driver runs, and on whichever node. From
    Python (a notebook): raysweep.open_dashboard(storage=...).

    \b
    On a cluster, run it on the head node and forward the port from your machine:
      ssh -L 8765:localhost:8765 head-node
    then open http://localhost:8765. Ctrl-C ends it.
    """
    from raysweep.dashboard.server import is_loopback, serve
    from raysweep.errors import RaysweepError
    from raysweep.files import default_storage

    console = make_console()
    folders = list(storage) or [str(default_storage())]
    generated = not is_loopback(host) and not token
    if generated:
        token = secrets.token_urlsafe(24)
        console.print(f"--host {escape(host)} is reachable from other machines: every request "
                      "needs the token of the URL below")
    try:
        server = serve(folders, host=host, port=port, token=token)
    except RaysweepError as exc:
        fail(str(exc))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is in use (another dashboard, or another program)",
                 "choose another with --port, e.g. --port 0 for any free one")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
             "check --host (an address of this machine) and --port")
    for folder in (f for f in folders if not Path(f).is_dir()):
        console.print(f"[yellow]note:[/] {escape(folder)} does not exist (yet): its sweeps "
                      "show once it does")
    console.print(f"raysweep dashboard of {escape(', '.join(folders))} (Ctrl-C ends it):")
    click.echo(f"  {server.url}")  # never folded by the terminal's width: it is copied
    if generated:
        click.echo(f"  token (header X-Raysweep-Token, or ?token=): {token}")
    # Ctrl-C (SIGINT) ends it even when it was started where SIGINT is ignored (a job sent to
    # the background by a non-interactive shell inherits SIG_IGN, and Python then keeps it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("dashboard ended")
    finally:
        server.server_close()
