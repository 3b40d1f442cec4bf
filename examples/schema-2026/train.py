"""A W&B-style training script: linear regression by mini-batch SGD (with momentum) or Adam.

It knows nothing about raysweep or Optuna: its hyperparameters come from `wandb.config` and
each `wandb.log` is one report, which the sweep's pruner judges. Numpy only, about a second
per run.
"""

import time

import numpy as np
import wandb

defaults = {"optimizer": "sgd", "lr": 0.01, "epochs": 12, "batch_size": 32}


def make_data(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x = rng.normal(size=(1200, 10))
    w = rng.normal(size=10)
    y = x @ w + 0.3 * rng.normal(size=1200)
    return x[:1000], y[:1000], x[1000:], y[1000:]


def main() -> None:
    run = wandb.init(project="raysweep-examples", config=defaults)
    config = wandb.config
    rng = np.random.default_rng(0)
    x_train, y_train, x_val, y_val = make_data(rng)
    w = np.zeros(x_train.shape[1])
    velocity = np.zeros_like(w)  # SGD's momentum buffer, or Adam's first moment
    second = np.zeros_like(w)  # Adam's second moment
    step = 0
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            grad = 2 * x_train[batch].T @ (x_train[batch] @ w - y_train[batch]) / len(batch)
            step += 1
            if config.optimizer == "sgd":
                velocity = config.get("momentum", 0.0) * velocity + grad
                w -= config.lr * velocity
            else:
                beta1, beta2 = config.get("beta1", 0.9), 0.999
                velocity = beta1 * velocity + (1 - beta1) * grad
                second = beta2 * second + (1 - beta2) * grad**2
                m_hat = velocity / (1 - beta1**step)
                v_hat = second / (1 - beta2**step)
                w -= config.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        val_loss = float(np.mean((x_val @ w - y_val) ** 2))
        wandb.log({"val_loss": val_loss, "epoch": epoch})
        # Stands in for a real epoch's work, so that a pruned run has epochs left to save.
        time.sleep(0.05)
    run.summary["final_val_loss"] = val_loss
    wandb.finish()


if __name__ == "__main__":
    main()
