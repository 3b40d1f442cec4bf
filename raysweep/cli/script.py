"""``raysweep run script.py``: a W&B script calling ``wandb.sweep``/``wandb.agent``, unedited.

The script runs in this process as ``python script.py`` would run it (``__main__``, its folder
first on ``sys.path``, ``sys.argv[0]`` its path), with raysweep's stand-in as ``wandb``. Each
``wandb.agent`` call becomes one sweep on Ray (:mod:`raysweep.agent_host`), shown with the
live view of ``raysweep run sweep.yaml``; the script goes on when the sweep ends. The exit code
is the worst of its sweeps' (as for a sweep file); a script that never calls
``wandb.agent`` ran nothing and exits 2.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from raysweep.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    escape,
    exit_code,
    exit_invalid,
    fail,
    summary,
)
from raysweep.cli.outcome import print_outcome, run_with_view
from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.execution.options import trial_cap
from raysweep.files import SCRIPT_FILE, write_json_atomic
from raysweep.sweep.model import Method

if TYPE_CHECKING:
    from rich.console import Console

    from raysweep.agent_host import AgentCall, AgentHost
    from raysweep.sweep.model import SweepConfig

__all__ = ["is_script", "resume_script", "run_script"]

SCRIPT_SUFFIXES = (".py",)


def is_script(path: str) -> bool:
    """Whether ``raysweep run`` was given a Python script rather than a sweep file.

    >>> is_script("train_sweep.py"), is_script("sweep.yaml")
    (True, False)
    """
    return Path(path).suffix.lower() in SCRIPT_SUFFIXES


class _SweepEnded(Exception):
    """A sweep of the script was cancelled or interrupted: the script stops there."""

    def __init__(self, code: int, path: Path) -> None:
        super().__init__(code, path)
        self.code = code
        self.path = path


def resume_script(
    sweep_dir: Path, console: Console, options: dict[str, Any], count: int | None
) -> NoReturn:
    """Continue a sweep that a script's ``wandb.agent`` call ran: run the script again.

    The call that ran the sweep (by its number in the script, :data:`SCRIPT_FILE`) resumes
    it; the script's other agent calls run nothing. ``count``: trials in all, the ended ones
    included (default: the call's own ``count``).
    """
    try:
        saved = json.loads((sweep_dir / SCRIPT_FILE).read_text(encoding="utf-8"))
        script, index, cwd = str(saved["script"]), int(saved["agent_call"]), saved.get("cwd")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fail(f"{sweep_dir / SCRIPT_FILE} cannot be read ({exc}): cannot tell which script "
             "ran this sweep")
    if not Path(script).is_file():
        fail(f"this sweep was run by {script}, which no longer exists",
             "The sweep's trials call a function of that script; restore it to resume")
    if cwd and Path(cwd).is_dir():
        os.chdir(cwd)  # the script's relative paths mean what they meant the first time
    console.print(f"[bold]raysweep[/]: running {escape(script)} again to resume "
                  f"{escape(str(sweep_dir))} (its wandb.agent call #{index + 1}; the other "
                  "calls run nothing)")
    run_script(script, console, options, count, resume_call=(index, sweep_dir.resolve()))


def run_script(
    script: str,
    console: Console,
    options: dict[str, Any],
    count: int | None,
    resume_call: tuple[int, Path] | None = None,
) -> NoReturn:
    """Run ``script``, whose ``wandb.agent`` calls become sweeps; exit with their worst code.

    ``options`` are :func:`raysweep.run`'s keyword arguments from the command line;
    ``count`` replaces the ``count`` of every ``wandb.agent`` call. ``resume_call``: see
    :class:`raysweep.agent_host.AgentHost`.
    """
    from raysweep.agent_host import AgentHost, install
    from raysweep.program.wandb_driver import set_host

    path = Path(script)
    if not path.is_file():
        fail(f"{script}: no such file",
             "raysweep run takes a sweep file (.yaml) or a Python script that calls "
             "wandb.sweep() and wandb.agent()")
    codes: list[int] = []
    address = options.get("address")
    host: AgentHost

    def runner(call: AgentCall) -> Any:
        from raysweep.analysis.live import LiveView
        from raysweep.analysis.tables import ended_trial_ids, read_meta
        from raysweep.execution.resume import saved_config

        kept: list[str] = []
        if call.resume:
            cfg: SweepConfig = saved_config(call.path, read_meta(call.path))
            kept = ended_trial_ids(call.path)
        else:
            assert call.config is not None  # a new sweep always has its config
            cfg = call.config
        cap = trial_cap(cfg, call.count)
        if cap is None and cfg.method is Method.GRID and not call.resume:
            cap = cfg.parameters.grid_size()  # as `raysweep run sweep.yaml` shows a grid
        view = LiveView(console, cfg, cap, shown=kept)
        started: list[Path] = []

        def on_start(sweep_dir: Path, _cfg: SweepConfig) -> None:
            started.append(sweep_dir)
            # What `raysweep resume` needs to run the script again for this sweep.
            write_json_atomic(sweep_dir / SCRIPT_FILE, {
                "script": str(path.resolve()), "agent_call": call.index,
                "cwd": os.getcwd(), "sweep_id": call.sweep_id,
            })
            where = "a private local Ray" if address is None else f"Ray at {address}"
            what = (f"resuming ({len(kept)} trials already ended)" if call.resume
                    else summary(cfg, call.count))
            console.print(f"[bold]raysweep[/]: {escape(path.name)}: "
                          f"wandb.agent({escape(repr(call.sweep_id))}): {escape(what)} on "
                          f"{escape(where)}")
            console.print(f"  results: {escape(str(sweep_dir))}")
            view.__enter__()

        result = run_with_view(view, started, lambda: host.run_call(
            call, on_start=on_start, on_change=view.update))
        print_outcome(console, result)
        statuses = result.trials["status"] if len(result.trials) else ()
        code = exit_code(result.meta.get("ended_by"), statuses)
        codes.append(code)
        if result.meta.get("ended_by") in ("cancel", "interrupt"):
            raise _SweepEnded(code, result.path)
        return result

    host = AgentHost(options=options, count=count, runner=runner, resume_call=resume_call)
    with _as_main(path):
        install(host)
        try:
            runpy.run_path(str(path), run_name="__main__")
        except _SweepEnded as ended:
            hint = (f"Continue that sweep with: raysweep resume {ended.path} (it runs "
                    f"{path.name} again; the call that ran the sweep continues it)")
            fail("the sweep was " + ("interrupted (Ctrl-C)" if ended.code == EXIT_INTERRUPTED
                                     else "cancelled") + f"; {path.name} stopped there",
                 hint, ended.code)
        except KeyboardInterrupt:
            fail(f"interrupted (Ctrl-C) while {path.name} ran", code=EXIT_INTERRUPTED)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise  # the script's own exit code, or a message already shown
        except SweepConfigError as exc:
            exit_invalid(exc)  # wandb.sweep(config) with an invalid config
        except RaysweepError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - the user's code: show where, as Python would
            _print_user_traceback(exc, path)
            fail(f"{path.name} raised {type(exc).__name__}: {exc}",
                 code=EXIT_FAILED if codes else EXIT_INVALID)
        finally:
            set_host(None)
    if not codes:
        fail(f"{path.name} ran no sweep: it never called wandb.agent()",
             "raysweep run SCRIPT.py runs scripts that call sweep_id = wandb.sweep(config) "
             "and wandb.agent(sweep_id, function=train); for a sweep file, pass the .yaml",
             EXIT_INVALID)
    sys.exit(max(codes))


@contextmanager
def _as_main(path: Path) -> Iterator[None]:
    """``sys.argv`` and ``sys.path`` as ``python path`` sets them, for the block."""
    saved_argv = sys.argv[:]
    folder = str(path.resolve().parent)
    sys.argv = [str(path)]
    # Ray adds the driver script's folder to its workers' sys.path when that folder is on
    # the driver's: the script's own modules import in the trials too.
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.argv[:] = saved_argv
        if folder in sys.path:
            sys.path.remove(folder)


def _print_user_traceback(exc: BaseException, path: Path) -> None:
    """Print the traceback from the script's first frame on (raysweep's frames left out)."""
    tb = exc.__traceback__
    script = str(path.resolve())
    while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) != script:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb if tb is not None
                                       else exc.__traceback__)
    sys.stderr.write("".join(lines))
