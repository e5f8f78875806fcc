"""lr-schedules and kl-vae: published numbers, torch.optim.lr_scheduler and torch autograd
cross-checks over random instances, and the named mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from i2dl.errors import ExprError
from i2dl.functions import arange, first_below, lr_cosine, lr_step, lr_warmup
from tests.samples import instances
from tests.strategies import assert_spec_validates, cli_solve
from tests.test_metrics_families import SPECS, alternatives, close, solve


@pytest.mark.library
@pytest.mark.parametrize("spec_id", ["lr-schedules", "kl-vae"])
def test_schedule_and_kl_families_validate_without_warnings_over_2000_samples(spec_id):
    assert_spec_validates(SPECS / f"{spec_id}.yaml", samples=2000, max_tries=4)


# ---------------------------------------------------------------------------- lr-schedules

STEP = {"lr": 0.1, "gamma": 0.5, "step_size": 5, "first_epoch": 0}


@pytest.mark.parametrize("epoch, rate", [(5, 0.05), (9, 0.05), (10, 0.025)])
def test_lr_schedules_reproduces_a_published_step_decay_exercise(epoch, rate):
    """StepLR exercise of lexailabs (https://prof.lexailabs.com/practice/step-lr-scheduler): initial rate 0.1,
    step size 5, gamma 0.5, epochs counted from 0: 0.05 at epochs 5 and 9, 0.025 at epoch 10."""
    close(solve("lr-schedules", {**STEP, "e_step": epoch})["lr_s"], rate)
    out = cli_solve("lr-schedules", [f"{k}={v}" for k, v in {**STEP, "e_step": epoch}.items()])
    close(out["values"]["lr_s"], rate)


def test_lr_schedules_reproduces_a_published_exponential_decay_exercise():
    """Exponential-decay exercise of click4ai (https://click4ai.perfionixai.com/problems/learning-rate-scheduler):
    0.1 * 0.5^2 = 0.025 at epoch 2 (epochs from 0)."""
    close(solve("lr-schedules", {"lr": 0.1, "gamma_exp": 0.5, "e_exp": 2, "first_epoch": 0})["lr_e"], 0.025)


def test_lr_schedules_counts_epochs_from_one_and_names_the_other_count():
    pins = {**STEP, "e_step": 10, "first_epoch": 1}  # epoch 10 of a count from 1 has 9 epochs before it
    close(solve("lr-schedules", pins)["lr_s"], 0.05)
    assert alternatives("lr-schedules", pins, "drops")["other-epoch-count"]["value"] == 2
    close(alternatives("lr-schedules", pins, "lr_s")["no-floor"]["value"], 0.1 * 0.5 ** (9 / 5))


def test_lr_schedule_records_by_hand():
    close(lr_cosine(1.0, 0.0, 10, arange(0, 11)), (1 + np.cos(np.pi * np.arange(11) / 10)) / 2)
    close(lr_cosine(0.5, 0.1, 4, 2), 0.3)
    close(lr_warmup(0.4, 4, arange(0, 6)), [0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    close(lr_step(1.0, 0.1, 3, arange(0, 7)), [1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert first_below(lr_step(1.0, 0.5, 2, arange(0, 10)), 0.3) == 4
    with pytest.raises(ExprError):
        first_below([1, 0.5], 0.1)
    with pytest.raises(ExprError):
        lr_step(0.1, 0.5, 2, -1)


def _torch_rates(torch, make, lr: float, n: int) -> list[float]:
    """The learning rate of epochs 0..n-1 under a torch scheduler (read before each scheduler step)."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sched = make(opt)
    rates = []
    for _ in range(n):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def _check_against_torch(torch, v: dict) -> None:
    """Every rate of one instance against the torch scheduler that implements its schedule."""
    S = torch.optim.lr_scheduler
    lr, W, T = float(v["lr"]), int(v["warmup"]), int(v["T_total"])
    step = _torch_rates(torch, lambda o: S.StepLR(o, step_size=int(v["step_size"]), gamma=float(v["gamma"])), lr, 41)
    close(v["lr_s"], step[int(v["i_step"])])
    close(v["e_below"] - v["first_epoch"], next(i for i, r in enumerate(step) if r < v["v"]))
    exp = _torch_rates(torch, lambda o: S.ExponentialLR(o, gamma=float(v["gamma_exp"])), lr, 6)
    close(v["lr_e"], exp[int(v["e_exp"])])
    cos = _torch_rates(torch, lambda o: S.CosineAnnealingLR(o, T_max=int(v["T_max"]), eta_min=float(v["eta_min"])),
                       lr, int(v["T_max"]) + 1)
    close(v["lr_c"], cos[int(v["i_cos"])], atol=1e-12)
    warm = _torch_rates(torch, lambda o: S.SequentialLR(o, [
        S.LinearLR(o, start_factor=1 / W, end_factor=1.0, total_iters=W - 1),
        S.CosineAnnealingLR(o, T_max=T - W, eta_min=float(v["eta_min"]))], milestones=[W]), lr, T)
    close(v["lr_w"], warm[int(v["i_warm"])], atol=1e-12)
    close(v["lr_a"], warm[int(v["i_after"])], atol=1e-12)


@pytest.mark.torch
def test_lr_schedules_match_torch_schedulers_over_random_instances():
    torch = pytest.importorskip("torch")
    for inst in instances("lr-schedules")[:50]:
        _check_against_torch(torch, inst.values)


# ---------------------------------------------------------------------------- kl-vae


def test_kl_vae_reproduces_a_published_kl_exercise():
    """KL exercise of onenoughtone (https://www.onenoughtone.com/learning-path/machine-learning-patterns/problem/gaussian-distribution-divergence):
    KL(N(0, 1) || N(1, 1)) = 0.5."""
    pins = {"mu_1": 0, "sigma1": 1, "mu_2": 1, "sigma2": 1}
    close(solve("kl-vae", pins)["kl_pq"], 0.5)
    close(cli_solve("kl-vae", [f"{k}={v}" for k, v in pins.items()])["values"]["kl_pq"], 0.5)


def test_kl_vae_reproduces_a_published_vae_loss_exercise():
    """VAE-loss exercise of lexailabs (https://prof.lexailabs.com/practice/vae-elbo-loss), example 1: x = [1, 0]
    reconstructed exactly with mu = [0, 0] and log-variance [0, 0] has loss 0 (squared-error reconstruction)."""
    v = solve("kl-vae", {"x": [1, 0], "x_hat": [1, 0], "mu_z": [0, 0], "logvar_z": [0, 0], "recon": "sse"})
    assert v["rec"] == 0 and v["kl_z"] == 0 and v["loss"] == 0


def test_kl_vae_mistakes_give_the_values_they_are_named_after():
    pins = {"mu_1": 0, "sigma1": 2, "mu_2": 1, "sigma2": 0.5, "mu_z": [1, 0], "logvar_z": [1, -1]}
    kl = math.log(0.25) + (4 + 1) / 0.5 - 0.5
    close(solve("kl-vae", pins)["kl_pq"], kl)
    alts = alternatives("kl-vae", pins, "kl_pq")
    close(alts["sigma-for-variance"]["value"], math.log(0.25) + (2 + 1) / 1 - 0.5)
    close(alts["half-missing"]["value"], 2 * kl)
    close(alts["arguments-swapped"]["value"], math.log(4) + (0.25 + 1) / 8 - 0.5)
    kl_z = 0.5 * (math.e + 1 - 1 - 1 + math.exp(-1) + 0 - 1 + 1)
    close(solve("kl-vae", pins)["kl_z"], kl_z)
    close(alternatives("kl-vae", pins, "kl_z")["sign-flipped"]["value"], -kl_z)
    close(alternatives("kl-vae", pins, "g_lv")["half-missing"]["value"], [math.e - 1, math.exp(-1) - 1])


@pytest.mark.torch
def test_kl_vae_keys_and_gradients_match_torch_autograd_over_random_instances():
    torch = pytest.importorskip("torch")
    from torch.distributions import Normal, kl_divergence

    F = torch.nn.functional
    for inst in instances("kl-vae")[:50]:
        v = inst.values
        p = Normal(torch.tensor(float(v["mu_1"]), dtype=torch.float64), torch.tensor(float(v["sigma1"]), dtype=torch.float64))
        q = Normal(torch.tensor(float(v["mu_2"]), dtype=torch.float64), torch.tensor(float(v["sigma2"]), dtype=torch.float64))
        close(v["kl_pq"], kl_divergence(p, q).item(), atol=1e-12)
        mu = torch.tensor(np.asarray(v["mu_z"], float), requires_grad=True)
        lv = torch.tensor(np.asarray(v["logvar_z"], float), requires_grad=True)
        kl = kl_divergence(Normal(mu, torch.exp(0.5 * lv)), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum()
        close(v["kl_z"], kl.item(), atol=1e-12)
        g_mu, g_lv = torch.autograd.grad(kl, (mu, lv))
        close(v["g_mu"], g_mu.numpy(), atol=1e-12)
        close(v["g_lv"], g_lv.numpy(), atol=1e-12)
        x, xh = (torch.tensor(np.asarray(v[k], float)) for k in ("x", "x_hat"))
        rec = F.mse_loss(xh, x, reduction="sum") if v["recon"] == "sse" else F.binary_cross_entropy(xh, x, reduction="sum")
        close(v["rec"], rec.item(), atol=1e-12)
        close(v["loss"], (rec + kl).item(), atol=1e-12)
