"""Numeric fitting routines shared by the router families (offline; numpy + torch)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

F64 = npt.NDArray[np.float64]


def ridge(x: F64, y: F64, alpha: float, weights: F64 | None = None) -> F64:
    """Closed-form ridge ``argmin Σ w·(xβ − y)² + α|β|²`` (the last column, the bias, is unpenalised)."""
    w: F64 = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    xtw = x.T * w
    reg = alpha * np.eye(x.shape[1])
    reg[-1, -1] = 1e-6
    beta = np.linalg.solve(xtw @ x + reg, xtw @ y)
    return np.asarray(beta, dtype=np.float64)


def fit_irt(
    scores: F64, groups: npt.NDArray[np.int64], *, l2: float = 0.05, steps: int = 400, seed: int = 0
) -> tuple[F64, F64]:
    """One-parameter IRT on a score matrix with NaN gaps: ``P(score) = σ(θ[group, m] − δ[i])``.

    ``groups[i]`` picks which ability table record i uses (so abilities are per data family).
    Returns ``(delta (n,), theta (n_groups, m))``; scores in [0, 1] act as soft labels.
    """
    torch.manual_seed(seed)
    mask = ~np.isnan(scores)
    y = torch.tensor(np.nan_to_num(scores), dtype=torch.float32)
    mk = torch.tensor(mask, dtype=torch.float32)
    g = torch.tensor(groups, dtype=torch.long)
    n, m = scores.shape
    delta = torch.zeros(n, requires_grad=True)
    theta = torch.zeros(int(groups.max()) + 1, m, requires_grad=True)
    opt = torch.optim.Adam([delta, theta], lr=0.1)
    count = mk.sum()
    for _ in range(steps):
        opt.zero_grad()
        logits = theta[g] - delta[:, None]
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * mk).sum()
        loss = loss / count + l2 * (delta.pow(2).mean() + 0.1 * theta.pow(2).mean())
        loss.backward()
        opt.step()
    return delta.detach().numpy().astype(np.float64), theta.detach().numpy().astype(np.float64)


def fit_bilinear(
    x: F64,
    scores: F64,
    *,
    rank: int = 32,
    l2: float = 1e-3,
    steps: int = 600,
    lr: float = 0.01,
    seed: int = 0,
) -> tuple[F64, F64, F64]:
    """Matrix factorisation with prompt side information: ``σ((x P) · V_mᵀ + c_m)`` fitted by
    masked BCE (NaN cells ignored). Returns ``(P, V, c)``."""
    torch.manual_seed(seed)
    mask = ~np.isnan(scores)
    xt = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(np.nan_to_num(scores), dtype=torch.float32)
    mk = torch.tensor(mask, dtype=torch.float32)
    d, m = x.shape[1], scores.shape[1]
    proj = torch.nn.Parameter(torch.randn(d, rank) * 0.05)
    vecs = torch.nn.Parameter(torch.randn(m, rank) * 0.05)
    col_mean = np.nanmean(np.where(mask, scores, np.nan), axis=0)
    col_mean = np.clip(np.nan_to_num(col_mean, nan=0.5), 0.02, 0.98)
    bias = torch.nn.Parameter(torch.tensor(np.log(col_mean / (1 - col_mean)), dtype=torch.float32))
    opt = torch.optim.Adam([proj, vecs, bias], lr=lr)
    count = mk.sum()
    for _ in range(steps):
        opt.zero_grad()
        logits = (xt @ proj) @ vecs.T + bias
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * mk).sum()
        loss = loss / count + l2 * (proj.pow(2).sum() + vecs.pow(2).sum())
        loss.backward()
        opt.step()
    return (
        proj.detach().numpy().astype(np.float64),
        vecs.detach().numpy().astype(np.float64),
        bias.detach().numpy().astype(np.float64),
    )


def fit_logistic(z: F64, y: F64, *, l2: float = 1.0, iters: int = 25) -> tuple[F64, float]:
    """L2-regularised logistic regression by Newton's method (soft labels allowed); ``z`` has no bias
    column. Returns ``(weights, bias)``."""
    a = np.hstack([z, np.ones((len(z), 1))])
    beta = np.zeros(a.shape[1])
    reg = l2 * np.eye(a.shape[1])
    reg[-1, -1] = 1e-6
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (p - y) + reg @ beta
        hess = (a.T * (p * (1 - p))) @ a + reg
        step = np.linalg.solve(hess, grad)
        beta = beta - step
        if float(np.abs(step).max()) < 1e-4:
            break
    return beta[:-1], float(beta[-1])


def fit_softmax(
    x: F64, labels: npt.NDArray[np.int64], n_classes: int, *, l2: float = 1e-3, steps: int = 300
) -> F64:
    """Multinomial logistic regression on a design matrix (bias column included); returns W (D, L)."""
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(labels, dtype=torch.long)
    # rare labels count more (weights ∝ 1/sqrt(frequency)) so they are not swallowed by big ones
    freq = np.bincount(labels, minlength=n_classes).astype(np.float64) + 1.0
    cw = torch.tensor(freq.mean() ** 0.5 / np.sqrt(freq), dtype=torch.float32)
    w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w, yt, weight=cw) + l2 * w[:-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy().astype(np.float64)


def fit_mlp(
    x: F64, y: F64, *, hidden: int = 64, l2: float = 1e-3, steps: int = 400, lr: float = 0.01, seed: int = 0
) -> tuple[tuple[F64, F64], tuple[F64, F64]]:
    """A one-hidden-layer ReLU regressor ``x → y`` (y: (n, k)) by full-batch Adam on squared error.
    Returns ``((W1, W2), (b1, b2))`` for :class:`routers.components.Mlp`."""
    torch.manual_seed(seed)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    w1 = torch.nn.Parameter(torch.randn(x.shape[1], hidden) * (2.0 / x.shape[1]) ** 0.5)
    b1 = torch.nn.Parameter(torch.zeros(hidden))
    w2 = torch.nn.Parameter(torch.randn(hidden, y.shape[1]) * (1.0 / hidden) ** 0.5)
    b2 = torch.nn.Parameter(torch.tensor(y.mean(axis=0), dtype=torch.float32))
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=lr)
    scale = torch.tensor(y.std(axis=0) + 1e-6, dtype=torch.float32)
    for _ in range(steps):
        opt.zero_grad()
        pred = torch.relu(xt @ w1 + b1) @ w2 + b2
        loss = (((pred - yt) / scale) ** 2).mean() + l2 * (w1.pow(2).sum() + w2.pow(2).sum())
        loss.backward()
        opt.step()

    def n(t: torch.Tensor) -> F64:
        return t.detach().numpy().astype(np.float64)

    return (n(w1), n(w2)), (n(b1), n(b2))


def fit_masked_mlp(
    x: F64,
    scores: F64,
    *,
    hidden: int = 128,
    l2: float = 1e-4,
    steps: int = 500,
    lr: float = 0.005,
    dropout: float = 0.1,
    seed: int = 0,
) -> tuple[tuple[F64, F64], tuple[F64, F64]]:
    """Per-model quality heads on a shared ReLU layer: ``logit_m(x) = relu(x W1 + b1) W2[:, m] + b2[m]``,
    fitted by masked BCE (NaN cells ignored, soft labels allowed)."""
    torch.manual_seed(seed)
    mask = ~np.isnan(scores)
    xt = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(np.nan_to_num(scores), dtype=torch.float32)
    mk = torch.tensor(mask, dtype=torch.float32)
    m = scores.shape[1]
    w1 = torch.nn.Parameter(torch.randn(x.shape[1], hidden) * (2.0 / x.shape[1]) ** 0.5)
    b1 = torch.nn.Parameter(torch.zeros(hidden))
    w2 = torch.nn.Parameter(torch.randn(hidden, m) * 0.01)
    col = np.clip(np.nan_to_num(np.nanmean(np.where(mask, scores, np.nan), axis=0), nan=0.5), 0.02, 0.98)
    b2 = torch.nn.Parameter(torch.tensor(np.log(col / (1 - col)), dtype=torch.float32))
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=lr)
    count = mk.sum()
    drop = torch.nn.Dropout(dropout)
    for _ in range(steps):
        opt.zero_grad()
        logits = drop(torch.relu(xt @ w1 + b1)) @ w2 + b2
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * mk).sum()
        loss = loss / count + l2 * (w1.pow(2).sum() + w2.pow(2).sum())
        loss.backward()
        opt.step()

    def n(t: torch.Tensor) -> F64:
        return t.detach().numpy().astype(np.float64)

    return (n(w1), n(w2)), (n(b1), n(b2))
