"""Every corpus sweep with a ``command:`` expands to the argv that W&B's agent would run.

Two implementations check each other: :func:`raysweep.sweep.command.build_argv`, and
:func:`wandb_argv` below, written from the W&B agent's macro rules (not from raysweep's code),
so a shared misreading would have to be made twice. A few files also have their argv spelled
out by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _shared import CORPUS

from raysweep.errors import RaysweepError
from raysweep.sweep.command import build_argv
from raysweep.sweep.config import load
from raysweep.sweep.model import Method, SweepConfig
from raysweep.sweep.space import SearchSpace

VALID = CORPUS / "valid"
JSON_FILE = "wandb/sweep-ID/config-RUN.json"
ENVIRON = {"HOME": "/home/u", "CUDA_VISIBLE_DEVICES": "0"}


def _files_with_command() -> list[Path]:
    if not VALID.is_dir():
        return []
    return [p for p in sorted(VALID.glob("*.yaml")) if load(p).command is not None]


FILES = _files_with_command()


def wandb_argv(command: list[Any], program: str | None, params: Mapping[str, Any],
               environ: Mapping[str, str]) -> list[str]:
    """The W&B agent's expansion, per the spec: whole-token macros become 0..n items, only
    ``${envvar:NAME}`` (NAME in ``[A-Z0-9_]*``, unset -> NAME, which raysweep refuses) and
    ``${<param>}`` expand inside a longer item, values print with ``str()`` and JSON macros
    with ``json.dumps``."""

    def inside(text: str) -> str:
        out, pos = [], 0
        while (start := text.find("${", pos)) != -1:
            end = text.find("}", start)
            if end == -1:
                break
            name = text[start + 2 : end]
            out.append(text[pos:start])
            if re.fullmatch(r"envvar:[A-Z0-9_]*", name):
                var = name[len("envvar:"):]
                out.append(environ.get(var, var))
            elif name in params:
                out.append(str(params[name]))
            else:
                out.append(text[start : end + 1])
            pos = end + 1
        return "".join(out) + text[pos:]

    argv: list[str] = []
    for item in command:
        token = str(item)
        if not (token.startswith("${") and token.endswith("}") and token.count("${") == 1):
            argv.append(inside(token))
            continue
        name = token[2:-1]
        pairs = list(params.items())
        if name == "env":
            argv.append("/usr/bin/env")
        elif name == "interpreter":
            argv.append("python")
        elif name == "program":
            assert program is not None
            argv.append(program)
        elif name == "args":
            argv += [f"--{k}={v}" for k, v in pairs]
        elif name == "args_no_equals":
            for k, v in pairs:
                argv += [f"--{k}", str(v)]
        elif name == "args_no_hyphens":
            argv += [f"{k}={v}" for k, v in pairs]
        elif name == "args_append_hydra":
            argv += [f"+{k}={v}" for k, v in pairs]
        elif name == "args_override_hydra":
            argv += [f"++{k}={v}" for k, v in pairs]
        elif name == "args_no_boolean_flags":
            for k, v in pairs:
                if v is True:
                    argv.append(f"--{k}")
                elif v is not False:
                    argv.append(f"--{k}={v}")
        elif name == "args_json":
            argv.append(json.dumps(dict(params)))
        elif name == "args_json_file":
            argv.append(JSON_FILE)
        elif re.fullmatch(r"envvar:[A-Z0-9_]*", name) or name in params:
            argv.append(inside(token))
        # any other whole-token macro expands to nothing
    return argv


def one_config(cfg: SweepConfig) -> dict[str, Any]:
    """The trial's top-level parameters: grid's first combination, else a draw with seed 0."""
    if cfg.method is Method.GRID:
        flat = next(iter(cfg.parameters.grid()))
    else:
        flat = cfg.parameters.sample(np.random.default_rng(0))
    return SearchSpace.unflatten(flat)


def raysweep_argv(cfg: SweepConfig, params: Mapping[str, Any]) -> list[str]:
    return build_argv(
        cfg.command,
        program=cfg.program,
        params=params,
        interpreter="python",
        env_cmd="/usr/bin/env",
        args_json_file=JSON_FILE,
        environ=ENVIRON,
    )


def test_the_corpus_has_commands_to_check() -> None:
    if not VALID.is_dir():
        pytest.skip(f"corpus not found at {VALID}")
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_command_expands_as_the_wandb_agent_does(path: Path) -> None:
    cfg = load(path)
    params = one_config(cfg)
    expected = wandb_argv(list(cfg.command or ()), cfg.program, params, ENVIRON)
    assert raysweep_argv(cfg, params) == expected
    assert all(isinstance(a, str) for a in expected)


HAND_PICKED = [
    pytest.param(
        "008_wbex_hydra_bayes_args_no_hyphens.yaml",
        {"experiment": "expt001", "optimizer": "adam", "optimizer.config.learning_rate": 1e-05},
        ["/usr/bin/env", "python", "main.py", "experiment=expt001", "optimizer=adam",
         "optimizer.config.learning_rate=1e-05"],
        id="hydra-no-hyphens",
    ),
    pytest.param(
        "084_wbcli_t_launch_macro_args_json.yaml",
        None,  # grid: the first combination
        ["python", "train.py", "--float", "1.99999", '{"bool_2": true, "foo-1": 1}'],
        id="non-string-item-and-args-json",
    ),
    pytest.param(
        "110_controllableir_grid_folded_arg.yaml",
        None,
        ["/usr/bin/env", "/home/mohameys/miniconda3/envs/neural/bin/python", "main_ppo.py",
         "--ir_beta=0.001", "FOLDED"],
        id="folded-flags-stay-one-item",
    ),
    pytest.param(
        "137_lightningtpl_bayes_args_json_file_slash_names.yaml",
        {"optimizer_config/optimizer/init_args/lr": 0.0001},
        ["/usr/bin/env", "cli", "fit", "--config",
         "configs/runs/faster-rcnn/faster-rcnn_r50_fpn_8xb3-2x_coco.yaml", "--json-file",
         JSON_FILE],
        id="args-json-file",
    ),
    pytest.param(
        "153_wbdocs_custom_param_macros.yaml",
        {"learning_rate": 0.01},
        ["/usr/bin/env", "python", "run.py", "--batch_size=${batch_size}",
         "--optimizer=${optimizer}", "--test=True"],
        id="custom-macros-of-unknown-params-stay",
    ),
    pytest.param(
        "154_vbrl_bayes_flow_style_no_boolean_flags.yaml",
        {"agent.algorithm.num-learning-epochs": 3, "dry": True, "wet": False},
        ["/usr/bin/env", "python", "-m", "vbrl.scripts.train",
         "Mjlab-LiftCube-RealTexture-DinoV2ViTS14-LocalGrid7-Trossen", "--env.scene.num-envs",
         "1024", "--gpu-ids", "all", "--agent.algorithm.num-learning-epochs=3", "--dry"],
        id="python-m-and-no-boolean-flags",
    ),
]


@pytest.mark.parametrize(("name", "params", "argv"), HAND_PICKED)
def test_hand_picked_commands(name: str, params: dict[str, Any] | None, argv: list[str]) -> None:
    path = VALID / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    cfg = load(path)
    if params is None:
        params = one_config(cfg)
    if "FOLDED" in argv:
        folded = str(cfg.command[-1])  # type: ignore[index]
        assert folded.startswith("--env_name=GDY-Clusters-Semi-Sparse-v0 --env_alias=")
        assert "\n" not in folded and folded.endswith("--recurrent")
        argv = [folded if a == "FOLDED" else a for a in argv]
    assert raysweep_argv(cfg, params) == argv
    assert wandb_argv(list(cfg.command or ()), cfg.program, params, ENVIRON) == argv


def test_envvar_macros_follow_the_spec() -> None:
    command = ["${envvar:HOME}/x", "--gpu=${envvar:CUDA_VISIBLE_DEVICES}",
               "${envvar:lower}", "${nope}", "${lr}", "lr=${lr}"]
    params = {"lr": 0.1}
    expected = ["/home/u/x", "--gpu=0", "0.1", "lr=0.1"]
    assert wandb_argv(command, None, params, ENVIRON) == expected
    assert build_argv(command, program=None, params=params, interpreter="python",
                      environ=ENVIRON) == expected


def test_an_unset_envvar_is_an_error_where_wandb_passes_its_name() -> None:
    # The one place raysweep departs from W&B's agent on purpose: W&B would run the program
    # with the literal argument `UNSET_VAR`.
    command = ["${program}", "--data=${envvar:UNSET_VAR}"]
    assert wandb_argv(command, "t.py", {}, ENVIRON) == ["t.py", "--data=UNSET_VAR"]
    with pytest.raises(RaysweepError, match=r"environment variable UNSET_VAR is not set"):
        build_argv(command, program="t.py", params={}, interpreter="python", environ=ENVIRON)
