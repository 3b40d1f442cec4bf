"""A W&B-style script with two objectives: validation loss against model size.

Ridge regression on `width` random Fourier features of a 2-D function: more features fit
better but make a bigger model. It logs both, `val_loss` and `n_params`, with one `wandb.log`.
Numpy only, well under a second per run.
"""

import numpy as np
import wandb

defaults = {"width": 16, "gamma": 1.0, "alpha": 1e-3}


def main() -> None:
    wandb.init(project="raysweep-examples", config=defaults)
    config = wandb.config
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(800, 2))
    y = np.sin(2 * x[:, 0]) * np.cos(x[:, 1]) + 0.1 * rng.normal(size=800)
    x_train, y_train, x_val, y_val = x[:600], y[:600], x[600:], y[600:]

    # The features: cos(x W + b), W drawn at the scale gamma (the kernel's inverse width).
    projection = rng.normal(scale=config.gamma, size=(2, config.width))
    offset = rng.uniform(0, 2 * np.pi, size=config.width)

    def features(points: np.ndarray) -> np.ndarray:
        return np.sqrt(2 / config.width) * np.cos(points @ projection + offset)

    phi = features(x_train)
    weights = np.linalg.solve(phi.T @ phi + config.alpha * np.eye(config.width), phi.T @ y_train)
    val_loss = float(np.mean((features(x_val) @ weights - y_val) ** 2))
    wandb.log({"val_loss": val_loss, "n_params": config.width})
    wandb.finish()


if __name__ == "__main__":
    main()
