"""W&B's tutorial pattern: ``wandb.sweep(config)`` + ``wandb.agent(sweep_id, function, count)``.

Ray-free: the host's rules (ids, validation, counts, resume, errors) with a recording runner,
and the stand-in's driver-side calls. With Ray: a notebook's flow through
``import raysweep.wandb``, and ``raysweep run script.py`` as a user types it.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _cli import private_ray_env, run_cli
from _standin import wandb_modules_restored

from raysweep.agent_host import AgentCall, AgentHost, install, use_wandb
from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.files import META_FILE, TRIALS_LOG_FILE
from raysweep.program.wandb_driver import get_host, set_host
from raysweep.program.wandb_package import SHIM_DIR, is_stand_in

CONFIG = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1},
                   "epochs": {"value": 2}},
}


class Recorder:
    """A runner that records the calls instead of running them."""

    def __init__(self) -> None:
        self.calls: list[AgentCall] = []

    def __call__(self, call: AgentCall) -> str:
        self.calls.append(call)
        return f"result {len(self.calls)}"


@pytest.fixture
def host(tmp_path: Path) -> AgentHost:
    return AgentHost(options={"storage": tmp_path / "results"}, runner=Recorder())


def _fake_sweep(root: Path, name: str, ended: int, cfg: dict[str, Any] = CONFIG) -> Path:
    """A sweep directory as a run leaves it: meta, config copy and ``ended`` finished trials."""
    import yaml

    path = root / name
    path.mkdir(parents=True)
    (path / META_FILE).write_text(json.dumps({"name": name, "method": "random"}))
    (path / "sweep.yaml").write_text(yaml.safe_dump(cfg))
    lines = [json.dumps({"trial_id": f"t{i}", "status": "finished", "config": {}})
             for i in range(ended)]
    lines.append(json.dumps({"trial_id": "tr", "status": "running", "config": {}}))
    (path / TRIALS_LOG_FILE).write_text("\n".join(lines) + "\n")
    return path


def test_sweep_returns_a_new_id_per_call_named_after_the_project(host: AgentHost) -> None:
    first = host.sweep(CONFIG, project="demo")
    second = host.sweep(CONFIG, project="demo")
    named = host.sweep({**CONFIG, "name": "my sweep"})
    assert first.startswith("demo-") and second.startswith("demo-") and first != second
    assert named.startswith("my-sweep-")


def test_sweep_accepts_a_callable_and_a_sweep_file(host: AgentHost, tmp_path: Path) -> None:
    import yaml

    assert host.sweep(lambda: CONFIG).startswith("sweep-")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "name": "from-file"}))
    assert host.sweep(str(path)).startswith("from-file-")


def test_an_invalid_config_is_refused_with_its_key_path(host: AgentHost) -> None:
    bad = {**CONFIG, "parameters": {"x": {"distribution": "uniform", "min": 1, "max": 0}}}
    with pytest.raises(SweepConfigError, match=r"parameters\.x"):
        host.sweep(bad)
    with pytest.raises(SweepConfigError, match="goal"):
        host.sweep({**CONFIG, "metric": {"name": "loss", "goal": "maximise"}})


def test_agent_runs_a_new_sweep_with_the_function_called_without_arguments(
    host: AgentHost, tmp_path: Path
) -> None:
    seen: list[Any] = []

    def train(config: Any = None) -> None:
        seen.append(config)

    sweep_id = host.sweep(CONFIG)
    assert host.agent(sweep_id, train, count=3) == "result 1"
    (call,) = host.runner.calls  # type: ignore[union-attr]
    assert (call.sweep_id, call.count, call.resume, call.index) == (sweep_id, 3, False, 0)
    assert call.path == (tmp_path / "results" / sweep_id).resolve()
    assert call.config is not None and call.config.method.value == "random"
    assert call.function is not None
    call.function()
    assert seen == [None]  # W&B's agent passes nothing: the tutorial's config=None stays None


def test_agent_continues_an_existing_sweep_for_count_more_trials(
    host: AgentHost, tmp_path: Path
) -> None:
    path = _fake_sweep(tmp_path / "results", "old-20260101-000000", ended=5)
    host.agent("old-20260101-000000", print, count=4)
    host.agent("me/project/old-20260101-000000", print)  # W&B's entity/project/id form
    first, second = host.runner.calls  # type: ignore[union-attr]
    assert (first.resume, first.path, first.count) == (True, path.resolve(), 9)
    assert (second.resume, second.count, second.sweep_id) == (True, None,
                                                              "old-20260101-000000")
    assert host.sweep("old-20260101-000000") == "old-20260101-000000"


def test_command_line_count_replaces_the_agents(tmp_path: Path) -> None:
    recorder = Recorder()
    host = AgentHost(options={"storage": tmp_path}, count=2, runner=recorder)
    host.agent(host.sweep(CONFIG), print, count=50)
    host.agent(host.sweep(CONFIG), print)
    assert [c.count for c in recorder.calls] == [2, 2]


def test_unknown_ids_and_missing_functions_are_explained(host: AgentHost) -> None:
    with pytest.raises(RaysweepError, match=r"no sweep has this id.*wandb\.sweep\(config\)"):
        host.agent("nope", print)
    with pytest.raises(RaysweepError, match="no sweep file and no sweep of that id"):
        host.sweep("nope")
    with pytest.raises(RaysweepError, match=r"no function.*function=train"):
        host.agent(host.sweep(CONFIG), None)
    # A sweep with a program runs it, as W&B's agent does without a function.
    host.agent(host.sweep({**CONFIG, "program": "train.py"}), None, count=1)


def test_use_wandb_refuses_options_run_does_not_take() -> None:
    with pytest.raises(TypeError, match="unknown options.*'adress'"):
        use_wandb(adress="auto")


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A driver process's state (no trial variables), with ``sys.modules``, ``sys.path``,
    ``sys.meta_path`` and the host restored afterwards."""
    for name in ("WANDB_RUN_ID", "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "RAYSWEEP_WANDB"):
        monkeypatch.delenv(name, raising=False)
    saved_path = list(sys.path)
    saved_host = get_host()
    try:
        with wandb_modules_restored():
            yield
    finally:
        set_host(saved_host)
        sys.path[:] = saved_path


def test_install_makes_import_wandb_the_stand_in_even_over_an_installed_one(
    driver: None, tmp_path: Path
) -> None:
    fake = tmp_path / "site" / "wandb"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    sys.path.insert(0, str(tmp_path / "site"))
    import wandb as real

    assert getattr(real, "REAL", False)
    module = install()
    import wandb

    assert wandb is module and is_stand_in(wandb) and sys.path[0] == str(SHIM_DIR)
    assert isinstance(get_host(), AgentHost)
    mine = AgentHost(count=7)
    set_host(mine)
    install()  # `import raysweep.wandb` in a script run by the CLI keeps the CLI's host
    assert get_host() is mine


def test_stand_in_calls_reach_the_host_outside_a_trial(driver: None, tmp_path: Path) -> None:
    recorder = Recorder()
    wandb = install(AgentHost(options={"storage": tmp_path}, runner=recorder))
    sweep_id = wandb.sweep(CONFIG, project="p")
    assert wandb.agent(sweep_id, function=print, count=2) == "result 1"
    assert recorder.calls[0].sweep_id == sweep_id
    with pytest.raises(wandb.errors.UsageError, match="positive whole number"):
        wandb.agent(sweep_id, function=print, count=0)
    set_host(None)
    with pytest.raises(wandb.errors.UsageError, match="raysweep run script.py"):
        wandb.sweep(CONFIG)


# --- with Ray ------------------------------------------------------------------------------


@pytest.mark.ray
def test_a_notebook_runs_its_sweep_with_one_added_line(driver: None, tmp_path: Path) -> None:
    import raysweep

    wandb: ModuleType = raysweep.use_wandb(storage=tmp_path)

    def _train(config: Any = None) -> None:  # a notebook's function, using the global wandb
        with wandb.init(config=config):
            c = wandb.config
            for epoch in range(c.epochs):
                wandb.log({"loss": (c.x - 0.3) ** 2 + 0.1 / (epoch + 1)})

    sweep_id = wandb.sweep(CONFIG, project="nb")
    result = wandb.agent(sweep_id, function=_train, count=3)
    trials = result.trials
    assert len(trials) == 3 and (trials["status"] == "finished").all(), trials["error"]
    for _, row in trials.iterrows():
        assert row["loss"] == pytest.approx((row["x"] - 0.3) ** 2 + 0.05)
        assert row["steps"] == 2
    assert result.path == tmp_path / sweep_id
    more = wandb.agent(sweep_id, function=_train, count=2)  # the same sweep, 2 more trials
    assert len(more.trials) == 5 and more.path == result.path
    assert set(more.history["trial_id"]) == set(more.trials["trial_id"])
    assert len(raysweep.results(result.path).trials) == 5


SCRIPT = textwrap.dedent('''\
    import wandb
    from helpers import loss_of   # a module beside the script: the trials import it too

    sweep_config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0.1, 0.3, 0.5, 0.7]}, "epochs": {"value": 2}},
    }

    def train():
        run = wandb.init()
        for epoch in range(wandb.config.epochs):
            wandb.log({"loss": loss_of(wandb.config.x, epoch)})
        run.finish()

    sweep_id = wandb.sweep(sweep_config, project="tutorial")
    wandb.agent(sweep_id, function=train, count=2)
    wandb.agent(sweep_id, function=train)   # the rest of the grid
    print("script went on after", sweep_id)
''')


@pytest.mark.slow
def test_raysweep_run_runs_a_tutorial_script_unedited(tmp_path: Path) -> None:
    (tmp_path / "tutorial.py").write_text(SCRIPT)
    (tmp_path / "helpers.py").write_text(
        "def loss_of(x, epoch):\n    return (x - 0.3) ** 2 + 0.1 / (epoch + 1)\n")
    # An installed `wandb` that would fail if imported: the stand-in must shadow it.
    broken = tmp_path / "site" / "wandb"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('the real wandb was imported')\n")
    with private_ray_env("rsa") as env:
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"),
                                             env.get("PYTHONPATH", "")])
        r = run_cli(["run", "tutorial.py", "--num-cpus", "2"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("wandb.agent('tutorial-") == 2
    assert "script went on after tutorial-" in r.stdout
    (sweep,) = (tmp_path / "raysweep_results").iterdir()
    import raysweep

    trials = raysweep.results(sweep).trials
    assert sorted(trials["x"]) == [0.1, 0.3, 0.5, 0.7]
    assert (trials["status"] == "finished").all()
    best = trials.iloc[0]
    assert (best["x"], best["loss"]) == (0.3, pytest.approx(0.05))


def test_a_script_without_an_agent_call_ran_nothing(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("import wandb\nprint('hello')\n")
    with private_ray_env("rsn") as env:
        r = run_cli(["run", "plain.py"], cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 2
    assert "plain.py ran no sweep: it never called wandb.agent()" in r.stderr + r.stdout
    assert "hello" in r.stdout


def test_a_script_error_shows_the_users_traceback_only(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "import wandb\n\ndef helper():\n    return 1 / 0\n\nhelper()\n")
    with private_ray_env("rsb") as env:
        r = run_cli(["run", "broken.py"], cwd=tmp_path, env=env, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "broken.py raised ZeroDivisionError: division by zero" in out
    assert 'broken.py", line 4, in helper' in out and "runpy" not in out


def test_an_invalid_config_in_a_script_exits_2_with_the_key_path(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(textwrap.dedent('''\
        import wandb
        sweep_id = wandb.sweep({"method": "bayes", "parameters": {"x": {"min": 0, "max": 1}}})
        wandb.agent(sweep_id, function=print)
    '''))
    with private_ray_env("rsc") as env:
        r = run_cli(["run", "bad.py"], cwd=tmp_path, env=env, timeout=60)
    assert r.returncode == 2
    assert "metric" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr


RESUMABLE = textwrap.dedent('''\
    import wandb

    def train():
        with wandb.init() as run:
            wandb.log({"loss": run.config.x})

    sweep_id = wandb.sweep({"method": "random", "metric": {"name": "loss", "goal": "minimize"},
                            "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    wandb.agent(sweep_id, function=train, count=10)
    wandb.agent(wandb.sweep({"method": "grid", "parameters": {"y": {"values": [1, 2]}}}),
                function=train)   # never reached: train logs config.x, which this one lacks
''')


@pytest.mark.slow
def test_a_scripts_sweep_resumes_by_running_the_script_again(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(RESUMABLE.replace(
        "function=train)   # never reached", "function=print)   # runs print()"))
    with private_ray_env("rsr") as env:
        r = run_cli(["run", "s.py", "--count", "2", "--num-cpus", "2"], cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        first, second = sorted((tmp_path / "raysweep_results").iterdir(),
                               key=lambda p: p.stat().st_mtime)
        r = run_cli(["resume", str(first), "--count", "3", "--num-cpus", "2"],
                    cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "again to resume" in r.stdout and "wandb.agent call #1" in r.stdout
    import raysweep

    assert len(raysweep.results(first).trials) == 3  # 2, then 1 more: --count is the total
    assert len(raysweep.results(second).trials) == 2  # the other call ran nothing again


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "wandb-agent"


@pytest.mark.ray
def test_the_example_notebook_runs_cell_by_cell(
    driver: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = json.loads((EXAMPLE / "sweep_notebook.ipynb").read_text())
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert cells[0].splitlines() == [
        "import raysweep.wandb  # noqa: F401, I001 - the one added line: sweeps now run on Ray",
        "import wandb",
    ]
    monkeypatch.setenv("RAYSWEEP_STORAGE", str(tmp_path))
    namespace: dict[str, Any] = {"__name__": "__main__"}  # as a kernel runs cells
    for cell in cells:
        exec(compile(cell.replace("count=10", "count=4"), "<cell>", "exec"), namespace)
    result = namespace["result"]
    assert len(result.trials) == 4 and (result.trials["status"] == "finished").all()
    assert set(result.history["epoch"]) == set(range(6))
    assert result.path.parent == tmp_path and result.best["value"] < 1.0


@pytest.mark.slow
def test_the_example_tutorial_script_runs_unedited(tmp_path: Path) -> None:
    with private_ray_env("rst") as env:
        r = run_cli(["run", str(EXAMPLE / "sweep_tutorial.py"), "--count", "3",
                     "--storage", str(tmp_path), "--num-cpus", "2"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (sweep,) = tmp_path.iterdir()
    import raysweep

    trials = raysweep.results(sweep).trials
    assert len(trials) == 3 and set(trials["status"]) <= {"finished", "stopped"}
    assert {"val_loss", "val_acc", "batch_size", "optimizer"} <= set(trials.columns)
