"""The RLHF loss kernels against their closed forms (llm_policy_opt spec R1, R2, A1, A2, P1, P2).

The exactness tests minimise each loss over a tabular softmax ``π(y|x) = softmax(θ_x)_y`` over every
response of every prompt (sequence-level losses only see log π(y|x), so a flat table over whole responses
is as expressive as a prefix tree), weighting every pair / sample by its probability: the
"infinite data" limit. LBFGS in float64 then finds the minimiser to high precision.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.nn import functional as F

from rl_suite.agents import rlhf_losses as L


@pytest.fixture(autouse=True)
def _float64() -> object:
    """LBFGS to 1e-4 in KL wants float64; restore the global default afterwards (other tests share it)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


N_PROMPTS, M = 3, 8  # 3 prompts, 8 responses each (e.g. V=2, L=3)


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (p * (p.log() - q.log())).sum(-1)


def _problem(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ref = torch.softmax(torch.randn(N_PROMPTS, M, generator=g), -1)
    rewards = torch.rand(N_PROMPTS, M, generator=g)
    return ref, rewards


def _minimise(loss_fn, init_logits: torch.Tensor, iters: int = 200) -> torch.Tensor:
    theta = init_logits.clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1.0,
        max_iter=iters,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(torch.log_softmax(theta, -1))
        loss.backward()
        return loss

    opt.step(closure)
    return torch.softmax(theta.detach(), -1)


def _all_pairs(logp: torch.Tensor, weights_per_response: torch.Tensor):
    """Flattened (y, y') pairs of every prompt, with pair ids and weights μ(y)μ(y')."""
    i, j = torch.meshgrid(torch.arange(M), torch.arange(M), indexing="ij")
    i, j = i.reshape(-1), j.reshape(-1)
    first = logp[:, i].reshape(-1)
    second = logp[:, j].reshape(-1)
    w = (weights_per_response[:, i] * weights_per_response[:, j]).reshape(-1)
    return first, second, i, j, w


def _rebel_step(pi_t: torch.Tensor, rewards: torch.Tensor, eta: float) -> torch.Tensor:
    """One exact REBEL iteration: minimise the loss over all pairs weighted π_t × π_t."""
    old = pi_t.log()
    n_pairs = N_PROMPTS * M * M
    pair_ids = torch.arange(n_pairs).repeat_interleave(2)

    def loss_fn(logp: torch.Tensor) -> torch.Tensor:
        a, b, _, _, w = _all_pairs(logp, pi_t)
        oa, ob, *_ = _all_pairs(old, pi_t)
        ra, rb, *_ = _all_pairs(rewards, pi_t)
        inter = lambda x, y: torch.stack([x, y], 1).reshape(-1)  # noqa: E731
        return L.rebel_loss(inter(a, b), inter(oa, ob), inter(ra, rb), pair_ids, eta, weights=w)

    return _minimise(loss_fn, old)


def test_r1_exact_rebel_regression_is_mirror_descent() -> None:
    pi_t, rewards = _problem(0)
    eta = 2.0
    new = _rebel_step(pi_t, rewards, eta)
    target = pi_t * torch.exp(eta * rewards)
    target = target / target.sum(-1, keepdim=True)
    assert _kl(target, new).max() < 1e-4
    # and it is a real step: far from π_t
    assert _kl(target, pi_t).max() > 1e-2


def test_r2_iterated_rebel_with_kl_shaped_reward_converges_to_pi_star() -> None:
    ref, rewards = _problem(1)
    beta = 0.5
    eta = 1.0  # eta*beta = 0.5: the log-policy error halves every iteration
    pi = ref.clone()
    for _ in range(14):
        shaped = rewards - beta * (pi.log() - ref.log())
        pi = _rebel_step(pi, shaped, eta)
    star = ref * torch.exp(rewards / beta)
    star = star / star.sum(-1, keepdim=True)
    assert _kl(star, pi).max() < 1e-4
    assert _kl(star, ref).max() > 1e-2


def test_a1_apo_fixed_point_is_pi_star() -> None:
    ref, rewards = _problem(2)
    beta = 0.3
    v_star = beta * torch.log((ref * torch.exp(rewards / beta)).sum(-1))  # exact V*
    ref_logp = ref.log()

    def loss_fn(logp: torch.Tensor) -> torch.Tensor:
        v = v_star[:, None].expand(-1, M)
        return L.apo_loss(
            logp.reshape(-1),
            ref_logp.reshape(-1),
            rewards.reshape(-1),
            v.reshape(-1),
            beta,
            weights=ref.reshape(-1),
        )

    pi = _minimise(loss_fn, torch.zeros(N_PROMPTS, M))
    star = ref * torch.exp(rewards / beta)
    star = star / star.sum(-1, keepdim=True)
    assert _kl(star, pi).max() < 1e-4


def test_a2_v_star_bias_shrinks_monotonically_with_n() -> None:
    # Binary rewards with pass rate p: E[V̂*] exactly, by summing over the binomial number of successes.
    beta1, p = 0.5, 0.3
    v_true = beta1 * math.log(1 - p + p * math.exp(1 / beta1))
    biases = []
    for n in (1, 2, 4, 8, 16, 32):
        expected = 0.0
        for k in range(n + 1):
            sample = torch.tensor([[1.0] * k + [0.0] * (n - k)])
            prob = math.comb(n, k) * p**k * (1 - p) ** (n - k)
            expected += prob * float(L.v_star_estimate(sample, beta1)[0])
        biases.append(expected - v_true)
    assert all(b < 0 for b in biases)  # Jensen: biased low
    assert all(abs(b2) < abs(b1) for b1, b2 in itertools.pairwise(biases))
    assert abs(biases[-1]) < 0.2 * abs(biases[0])


def test_v_star_estimate_branches_and_hand_values() -> None:
    r = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    # beta1 = 0.5, p = 0.5: 0.5*log((1+e^2)/2) = 0.5*log(1+0.5*(e^2-1)) (spec table: 0.72)
    v = L.v_star_estimate(r, 0.5)
    assert v[0].item() == pytest.approx(0.5 * math.log((1 + math.e**2) / 2))
    assert v[0].item() == pytest.approx(0.72, abs=0.01)
    assert v[1].item() == pytest.approx(1.0)
    assert L.v_star_estimate(r, 0.0).tolist() == [0.5, 1.0]
    assert L.v_star_estimate(r, -1.0).tolist() == [0.0, 0.0]


def test_p2_dpo_minimiser_is_the_rlhf_optimum() -> None:
    ref, rewards = _problem(3)
    beta = 0.4
    mu = torch.softmax(torch.randn(N_PROMPTS, M, generator=torch.Generator().manual_seed(9)), -1)
    ref_logp = ref.log()

    def loss_fn(logp: torch.Tensor) -> torch.Tensor:
        # BT preferences with P(y > y') = σ(r(y) - r(y')): the expected loss over labels is the
        # p-weighted loss with (y, y') as (chosen, rejected) plus the (1-p)-weighted one reversed.
        a, b, _, _, w = _all_pairs(logp, mu)
        ra, rb, *_ = _all_pairs(ref_logp, mu)
        xa, xb, *_ = _all_pairs(rewards, mu)
        p = torch.sigmoid(xa - xb)
        return L.dpo_loss(a, b, ra, rb, beta, weights=w * p) + L.dpo_loss(
            b, a, rb, ra, beta, weights=w * (1 - p)
        )

    pi = _minimise(loss_fn, torch.zeros(N_PROMPTS, M))
    star = ref * torch.exp(rewards / beta)
    star = star / star.sum(-1, keepdim=True)
    assert _kl(star, pi).max() < 1e-4


def test_p1_bt_reward_model_reaches_bayes_accuracy_and_centres() -> None:
    g = torch.Generator().manual_seed(0)
    d, n_train, n_test = 6, 4000, 4000
    theta_star = torch.randn(d, generator=g)

    def pairs(n: int):
        x1, x2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
        p = torch.sigmoid((x1 - x2) @ theta_star)
        first_wins = torch.rand(n, generator=g) < p
        chosen = torch.where(first_wins[:, None], x1, x2)
        rejected = torch.where(first_wins[:, None], x2, x1)
        return x1, x2, p, chosen, rejected

    _, _, _, chosen, rejected = pairs(n_train)
    ones = lambda x: torch.cat([x, torch.ones(len(x), 1)], 1)  # noqa: E731 (an intercept for centring)
    w = torch.zeros(d + 1, requires_grad=True)
    w.data[-1] = 3.0  # start off-centre: the centring term must bring the mean reward back to ~0
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = L.bt_reward_loss(ones(chosen) @ w, ones(rejected) @ w, center_coef=0.01)
        loss.backward()
        return loss

    opt.step(closure)
    x1, x2, p, _, _ = pairs(n_test)
    with torch.no_grad():
        pred_first = (ones(x1) @ w) > (ones(x2) @ w)
        acc = torch.where(pred_first, p, 1 - p).mean()
        bayes = torch.maximum(p, 1 - p).mean()
        mean_reward = torch.cat([ones(x1) @ w, ones(x2) @ w]).mean()
    assert acc >= 0.95 * bayes
    assert abs(float(mean_reward)) < 0.1


def test_loss_hand_values() -> None:
    # REBEL: one pair, old = 0: res = (1 - 0.5) - 2*(1 - 0) = -1.5 -> 2.25
    loss = L.rebel_loss(
        torch.tensor([1.0, 0.5]), torch.zeros(2), torch.tensor([1.0, 0.0]), torch.tensor([7, 7]), eta=2.0
    )
    assert loss.item() == pytest.approx(2.25)
    # pairs given interleaved in any order
    loss2 = L.rebel_loss(
        torch.tensor([1.0, 3.0, 0.5, 3.0]),
        torch.zeros(4),
        torch.tensor([1.0, 0.0, 0.0, 0.0]),
        torch.tensor([0, 1, 0, 1]),
        eta=2.0,
    )
    assert loss2.item() == pytest.approx(2.25 / 2)
    # A*-PO: (0.1*(2-1) - (1 - 0.5))^2 = 0.16
    assert L.apo_loss(
        torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([0.5]), 0.1
    ).item() == pytest.approx(0.16)
    # DPO: -log σ(0.5*(1-(-1))) = softplus(-1)
    assert L.dpo_loss(
        torch.tensor([1.0]), torch.tensor([-1.0]), torch.zeros(1), torch.zeros(1), 0.5
    ).item() == pytest.approx(math.log1p(math.exp(-1.0)))
    # IPO: (2/4 - 0 - 1/(2*0.5))^2 = 0.25
    assert L.ipo_loss(
        torch.tensor([2.0]),
        torch.tensor([0.0]),
        torch.zeros(1),
        torch.zeros(1),
        0.5,
        len_chosen=4.0,
        len_rejected=4.0,
    ).item() == pytest.approx(0.25)
    # χPO: link(h=0) = 1 both sides -> -log σ(0) = log 2; large margins are clipped at 2*r_max
    assert L.chipo_loss(
        torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1), 0.1
    ).item() == pytest.approx(math.log(2))
    big = L.chipo_loss(
        torch.tensor([5.0]), torch.tensor([-5.0]), torch.zeros(1), torch.zeros(1), 1.0, r_max=1.0
    )
    assert big.item() == pytest.approx(math.log1p(math.exp(-2.0)))
    # BT with margin and centring: -log σ(1 - 0 - 0.5) + 0.1*(1)^2
    assert L.bt_reward_loss(torch.tensor([1.0]), torch.tensor([0.0]), 0.5, 0.1).item() == pytest.approx(
        math.log1p(math.exp(-0.5)) + 0.1
    )


def test_advantages_hand_values() -> None:
    r = torch.tensor([1.0, 0.0, 3.0, 3.0, 0.0, 1.0])
    gid = torch.tensor([0, 0, 5, 5, 0, 5])  # groups need not be contiguous
    loo = L.leave_one_out_advantages(r, gid)
    assert loo.tolist() == pytest.approx([1.0, -0.5, 1.0, 1.0, -0.5, -2.0])
    adv = L.group_baseline_advantages(r, gid, "none")
    assert adv.tolist() == pytest.approx([2 / 3, -1 / 3, 2 / 3, 2 / 3, -1 / 3, -4 / 3])
    std0 = torch.tensor([1.0, 0.0, 0.0]).std().item()
    adv = L.group_baseline_advantages(r, gid, "group", eps=0.0)
    assert adv[0].item() == pytest.approx((2 / 3) / std0)
    # RLOO with k = 2 is pairwise REINFORCE: A = ±(r1 - r2)/... gradient check against the hand form
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    L.rloo_loss(logp, torch.zeros(2), torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), beta=0.0).backward()
    assert logp.grad.tolist() == pytest.approx([-0.5, 0.5])


def test_grouping_and_shaping_hand_values() -> None:
    # group ids 7, 3, 7, 9 → sorted unique (3, 7, 9) → dense (1, 0, 1, 2), G = 3
    dense, n_groups = L.group_index(torch.tensor([7, 3, 7, 9]))
    assert dense.tolist() == [1, 0, 1, 2] and n_groups == 3
    # pairs by id: id 2 holds (20, 40), id 5 holds (10, 30); ordered by id, first member first in the batch
    first, second = L.pair_up(torch.tensor([10.0, 20.0, 30.0, 40.0]), torch.tensor([5, 2, 5, 2]))
    assert first.tolist() == [20.0, 10.0] and second.tolist() == [40.0, 30.0]
    # unbiased std per group: (1, 3) → mean 2, ((−1)² + 1²)/1 = 2 → √2 = 1.4142136;
    # (2, 2, 6) → mean 10/3, (16/9 + 16/9 + 64/9)/2 = 16/3 → 2.3094011
    std = L.group_reward_std(torch.tensor([1.0, 3.0, 2.0, 2.0, 6.0]), torch.tensor([0, 0, 1, 1, 1]))
    assert std.tolist() == pytest.approx([1.4142136, 2.3094011], abs=1e-7)
    # r − c·(ℓ − ℓ_ref) with c = 0.5: 1 − 0.5·(−1 + 2) = 0.5 and 0 − 0.5·0 = 0, detached
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    shaped = L.kl_shaped_reward(torch.tensor([1.0, 0.0]), logp, torch.tensor([-2.0, -2.0]), 0.5)
    assert shaped.tolist() == pytest.approx([0.5, 0.0]) and not shaped.requires_grad
    # χPO link e^h + h of h = ℓ − ℓ_ref: h = 0 → 1; h = ln 2 → 2 + 0.6931472; h = −ln 2 → 0.5 − 0.6931472
    h = torch.tensor([0.0, math.log(2.0), -math.log(2.0)])
    assert L.chipo_link(h, torch.zeros(3)).tolist() == pytest.approx([1.0, 2.6931472, -0.1931472], abs=1e-7)
    with pytest.raises(ValueError, match="exactly twice"):
        L.pair_up(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="1-D"):
        L.group_index(torch.zeros(2, 2, dtype=torch.long))


def test_grpo_first_step_is_the_policy_gradient_and_clip_works() -> None:
    g = torch.Generator().manual_seed(0)
    tok = torch.randn(4, 3, generator=g).requires_grad_(True)
    mask = torch.ones(4, 3)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0])
    gid = torch.tensor([0, 0, 1, 1])
    loss = L.grpo_loss(tok, tok.detach(), None, mask, rewards, gid, beta=0.0, loss_type="grpo")
    adv = L.group_baseline_advantages(rewards, gid)
    assert loss.item() == pytest.approx(-adv.mean().item())  # the value is -mean(A) = 0, the gradient is not
    loss.backward()
    assert torch.allclose(tok.grad, -adv[:, None].expand(4, 3) / 3 / 4)
    # a ratio beyond 1+eps with positive advantage gets no gradient
    t2 = torch.zeros(2, 1, requires_grad=True)
    old = torch.full((2, 1), -1.0)  # ratio = e > 1.2
    L.grpo_loss(
        t2, old, None, torch.ones(2, 1), torch.tensor([1.0, 0.0]), torch.tensor([0, 0]), loss_type="dapo"
    ).backward()
    assert t2.grad[0, 0].item() == 0.0 and t2.grad[1, 0].item() != 0.0
    # k3 KL is zero at π = π_ref and positive elsewhere
    ref = tok.detach().clone()
    z = L.grpo_loss(ref, ref, ref, mask, torch.zeros(4), gid, beta=1.0, scale_rewards="none")
    assert z.item() == pytest.approx(0.0)
    pos = L.grpo_loss(ref + 0.3, ref + 0.3, ref, mask, torch.zeros(4), gid, beta=1.0, scale_rewards="none")
    assert pos.item() > 0
    # the three normalisations on a ragged mask
    mask2 = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    vals = {
        lt: L.grpo_loss(
            ref + 0.3,
            ref + 0.3,
            ref,
            mask2,
            torch.zeros(4),
            gid,
            beta=1.0,
            scale_rewards="none",
            loss_type=lt,
        ).item()
        for lt in ("grpo", "dapo", "dr_grpo")
    }
    k3 = math.exp(-0.3) + 0.3 - 1
    assert vals["grpo"] == pytest.approx(k3)
    assert vals["dapo"] == pytest.approx(k3)
    assert vals["dr_grpo"] == pytest.approx(k3 * 9 / 12)


def test_rebel_first_step_equals_rloo_k2_direction() -> None:
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    r = torch.tensor([1.0, 0.0])
    L.rebel_loss(logp, logp.detach(), r, torch.tensor([0, 0]), eta=1.0).backward()
    g_rebel = logp.grad.clone()
    logp.grad = None
    L.rloo_loss(logp, torch.zeros(2), r, torch.tensor([0, 0]), beta=0.0).backward()
    ratio = g_rebel / logp.grad
    assert ratio[0].item() == pytest.approx(ratio[1].item())
    assert ratio[0].item() > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: L.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), 0.0),
            "beta must be > 0",
        ),
        (lambda: L.chipo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), -1.0), "beta"),
        (lambda: L.ipo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), 0.0), "beta"),
        (lambda: L.apo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), 0.0), "beta2"),
        (
            lambda: L.rebel_loss(
                torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.tensor([0, 0, 1]), 1.0
            ),
            "exactly twice",
        ),
        (
            lambda: L.rebel_loss(
                torch.zeros(4), torch.zeros(4), torch.zeros(4), torch.tensor([0, 0, 0, 1]), 1.0
            ),
            "exactly twice",
        ),
        (lambda: L.dpo_loss(torch.zeros(2), torch.zeros(3), torch.zeros(2), torch.zeros(2), 0.1), "shape"),
        (
            lambda: L.grpo_loss(
                torch.zeros(2, 2),
                torch.zeros(2, 2),
                None,
                torch.ones(2, 2),
                torch.zeros(2),
                torch.tensor([0, 1]),
                0.0,
            ),
            "at least 2",
        ),
        (
            lambda: L.grpo_loss(
                torch.zeros(2, 2),
                torch.zeros(2, 2),
                None,
                torch.ones(2, 2),
                torch.zeros(2),
                torch.tensor([0, 0]),
                0.1,
            ),
            "ref_token_logp",
        ),
        (lambda: L.v_star_estimate(torch.zeros(3), 0.5), "n_prompts"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_weighted_mean_and_logsigmoid_stable() -> None:
    # χPO/DPO stay finite for huge margins
    huge = L.dpo_loss(torch.tensor([-500.0]), torch.tensor([500.0]), torch.zeros(1), torch.zeros(1), 1.0)
    assert math.isfinite(huge.item()) and huge.item() == pytest.approx(1000.0)
    assert F.logsigmoid(torch.tensor(0.0)).item() == pytest.approx(-math.log(2))
