"""The cluster example's program: a small two-layer network on synthetic data, in NumPy.

It stands for your GPU training script: Ray gives each trial the GPUs of
``raysweep.resources`` on one node and sets ``CUDA_VISIBLE_DEVICES`` to them, so PyTorch, JAX or
TensorFlow code sees exactly those (``cuda:0`` is the trial's first GPU). This one only prints
them, so it runs anywhere: ``python train.py --lr=0.05``.

Each epoch is one step for early termination (``raysweep.log``).
"""

from __future__ import annotations

import argparse
import os
import socket

import numpy as np

import raysweep


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    print(f"host {socket.gethostname()}, GPUs {gpus or 'none'}", flush=True)

    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(2048, 16))
    y = np.sin(x[:, :4].sum(axis=1, keepdims=True)) + 0.1 * rng.normal(size=(2048, 1))
    x_train, x_val, y_train, y_val = x[:1536], x[1536:], y[:1536], y[1536:]
    w1 = rng.normal(scale=0.3, size=(16, args.hidden))
    w2 = rng.normal(scale=0.3, size=(args.hidden, 1))
    for epoch in range(1, args.epochs + 1):
        for i in range(0, len(x_train), 64):
            xb, yb = x_train[i : i + 64], y_train[i : i + 64]
            h = np.tanh(xb @ w1)
            err = (h @ w2 - yb) / len(xb)
            grad_w2 = h.T @ err
            grad_w1 = xb.T @ ((err @ w2.T) * (1 - h**2))
            w1 -= args.lr * grad_w1
            w2 -= args.lr * grad_w2
        val_loss = float(np.mean((np.tanh(x_val @ w1) @ w2 - y_val) ** 2))
        raysweep.log({"val_loss": val_loss, "epoch": epoch})
        print(f"epoch {epoch}: val_loss={val_loss:.4f}", flush=True)


if __name__ == "__main__":
    main()
