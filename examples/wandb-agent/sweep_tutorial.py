"""W&B's sweep tutorial, as its notebooks write it: the sweep defined in Python, run by an agent.

Nothing here knows raysweep. Run it unedited with:

    raysweep run examples/wandb-agent/sweep_tutorial.py

and each ``wandb.agent`` call becomes a sweep on a private local Ray (``--address auto`` for a
cluster, ``--count N`` to change the agent's count). With the real ``wandb`` package and an
account, ``python sweep_tutorial.py`` runs it on W&B's servers as before.
"""

import warnings

import numpy as np
import wandb
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

# 1. Define the sweep: the search method, the metric and the parameters to try.
sweep_config = {"method": "random"}
metric = {"name": "val_loss", "goal": "minimize"}
sweep_config["metric"] = metric

parameters_dict = {
    "optimizer": {"values": ["constant", "optimal", "adaptive"]},
    "penalty": {"values": ["l2", "l1", "elasticnet"]},
}
sweep_config["parameters"] = parameters_dict
parameters_dict.update({"epochs": {"value": 8}})
parameters_dict.update({
    "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.3},
    "batch_size": {"distribution": "q_log_uniform_values", "q": 8, "min": 32, "max": 256},
})
sweep_config["early_terminate"] = {"type": "hyperband", "min_iter": 2}

# 2. Initialise the sweep.
sweep_id = wandb.sweep(sweep_config, project="sklearn-sweeps-demo")


def build_dataset(batch_size):
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, stratify=y,
                                                      random_state=0)
    scaler = StandardScaler().fit(x_train)
    batches = [(scaler.transform(x_train[i:i + batch_size]), y_train[i:i + batch_size])
               for i in range(0, len(x_train), batch_size)]
    return batches, scaler.transform(x_val), y_val


def build_model(optimizer, penalty, learning_rate):
    return SGDClassifier(loss="log_loss", learning_rate=optimizer, eta0=learning_rate,
                         penalty=penalty, alpha=1e-4, random_state=0)


# 3. The training function the agent calls, once per run, without arguments.
def train(config=None):
    # Initialise a new wandb run
    with wandb.init(config=config):
        # If called by wandb.agent, as below, this config will be set by the sweep controller
        config = wandb.config

        batches, x_val, y_val = build_dataset(config.batch_size)
        model = build_model(config.optimizer, config.penalty, config.learning_rate)
        classes = np.unique(y_val)
        for epoch in range(config.epochs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for x_batch, y_batch in batches:
                    model.partial_fit(x_batch, y_batch, classes=classes)
            proba = np.clip(model.predict_proba(x_val), 1e-7, 1.0)
            wandb.log({"val_loss": log_loss(y_val, proba, labels=classes),
                       "val_acc": accuracy_score(y_val, model.predict(x_val)),
                       "epoch": epoch})


# 4. Run the sweep agent.
wandb.agent(sweep_id, train, count=12)
