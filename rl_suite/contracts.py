"""What an agent may read from an env: one typed contract per env family.

Every family of the suite has a contract here, a :class:`typing.Protocol` naming exactly the attributes and
methods an agent may read from ``env.unwrapped`` (:data:`rl_suite.registry.FAMILY_CONTRACTS` says which
family has which; ``tests/test_contracts.py`` checks every registered env against its family's contract,
member by member and type by type). Contracts build on each other, so an agent can ask for no more than it
needs: ``OFUL`` reads a :class:`LinearBanditModel`, which the linear, the stage-wise constrained linear and
the safe linear bandits all are.

Agents declare the contract they are written for (``requires``), and the registry derives from it which env
families they support. They read the env through :meth:`rl_suite.agents.base.Agent.contract`, which returns
``env.unwrapped`` typed as the contract, or raises one :class:`~rl_suite.errors.UserError` line naming what
the env lacks and the envs that provide it. On a Gymnasium ``VectorEnv`` of bandits the same read gives the
sub-envs' common value, or an ``(R,)`` array of their values when they differ (:class:`VectorView`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast, runtime_checkable

import numpy as np

from rl_suite.errors import UserError

if TYPE_CHECKING:
    from rl_suite.exact import pomdp as exact_pomdp
    from rl_suite.rlhf.task import RLHFTask
    from rl_suite.sequence_policy import SequencePolicy

P = TypeVar("P")

#: A contract class as a value. (Type checkers refuse a Protocol class where ``type[P]`` is expected —
#: "only concrete class" — but accept it as a callable returning ``P``.)
Contract = Callable[..., P]

#: What an agent class declares in ``requires``: one contract, any one of several, or ``None`` when it reads
#: nothing from the env (its env families are then listed in the registry).
Requirement = Callable[..., Any] | tuple[Callable[..., Any], ...] | None


# --------------------------------------------------------------------------------------------- bandits
@runtime_checkable
class StochasticBandit(Protocol):
    """A bandit whose rewards are noisy around their means: every bandit family but solver tuning."""

    noise_sd_bound: float
    """Sub-Gaussian constant of the reward (and cost) noise: σ for Gaussian noise, 0.5 for Bernoulli."""


@runtime_checkable
class RewardNoiseModel(StochasticBandit, Protocol):
    """A bandit that names its reward law: the contract of ``multi_armed_bandit``."""

    reward_noise: str
    """``"bernoulli"`` or ``"gaussian"``."""


@runtime_checkable
class LinearBanditModel(StochasticBandit, Protocol):
    """A linear bandit: arm features as ``(K, d)`` observations and the bounds of the theory."""

    model: Literal["disjoint", "shared"]
    """One θ*_a per arm on a common context (``disjoint``) or one θ* on per-arm features (``shared``)."""
    theta_norm_bound: float
    """Bound on ``‖θ*‖₂`` (per arm on the disjoint model)."""
    feature_norm_bound: float
    """Bound on ``‖x‖₂`` of any arm's features."""


@runtime_checkable
class LinearContextualBanditModel(LinearBanditModel, RewardNoiseModel, Protocol):
    """The contract of ``linear_bandit``: a linear bandit with a named reward law."""


@runtime_checkable
class StagewiseConstrained(StochasticBandit, Protocol):
    """A stage-wise constrained bandit: the expected cost of every round's play must stay under τ."""

    tau: float
    """The threshold τ."""
    safe_cost: float
    """The known cost c₀ < τ of the known safe play."""


@runtime_checkable
class ConstrainedMABModel(StagewiseConstrained, RewardNoiseModel, Protocol):
    """The contract of ``constrained_mab``: a constrained multi-armed bandit with a known safe arm."""

    safe_arm: int
    """Index of the known safe arm (its cost is ``safe_cost``)."""


@runtime_checkable
class ConstrainedLinearModel(StagewiseConstrained, LinearBanditModel, Protocol):
    """A constrained linear bandit with a linear cost: the contract of ``safe_linear``."""

    mu_norm_bound: float
    """Bound on ``‖μ*‖₂``, the cost parameter."""


@runtime_checkable
class StagewiseLinearModel(ConstrainedLinearModel, RewardNoiseModel, Protocol):
    """The contract of ``constrained_linear``: a constrained linear bandit with a known safe action."""

    safe_action: np.ndarray
    """``(d,)`` features x₀ of the known safe action."""
    safe_action_index: int
    """Row of the safe action in every round's ``(K, d)`` observation."""


@runtime_checkable
class SolverTuning(Protocol):
    """The contract of ``solver_tuning``: choosing a linear solver's ω, rewards minus iteration counts."""

    omegas: np.ndarray
    """``(K,)`` the ω grid: arm k plays ``omegas[k]``."""
    cost_is_iteration_count: bool
    """Rewards are minus iteration counts (≥ 1): loss-based agents normalise them."""
    context_is_side_information: bool
    """Non-contextual agents may ignore the observation."""
    context_bounds: tuple[float, float] | None
    """``(low, high)`` range of the scalar context, or ``None`` when unknown."""

    @property
    def current_optimal_action(self) -> int:
        """Index of the instance-optimal ω of the current round (what the reference oracle plays)."""
        ...


# ------------------------------------------------------------------------------------ episodic models
@runtime_checkable
class FiniteMDPModel(Protocol):
    """A finite-horizon MDP with an exact model: the contract of ``tabular_mdp`` and ``minigrid``."""

    horizon: int
    """H, the steps of an episode."""
    n_states: int
    """S, the number of (latent) states."""
    stationary: bool
    """Whether the transitions and rewards do not depend on the step."""
    Q_star: np.ndarray
    """``(H, S, A)`` optimal action values."""


@runtime_checkable
class LinearMDPModel(FiniteMDPModel, Protocol):
    """The contract of ``linear_mdp``: a finite MDP with known features of an exact linear MDP."""

    features: np.ndarray
    """φ(s, a): ``(S, A, d)``, or ``(H, S, A, d)`` when they depend on the step."""


@runtime_checkable
class BlockMDPDecoder(FiniteMDPModel, Protocol):
    """The contract of ``block_mdp``: rich observations emitted by latent states, with the true decoder."""

    def decode(self, obs: Any) -> np.ndarray | int:
        """The latent state(s) of an observation (or of a batch of them)."""
        ...


@runtime_checkable
class TabularPOMDP(Protocol):
    """The contract of ``pomdp``: a tabular POMDP with its exact model and evaluation hooks."""

    max_steps: int
    """Steps of an episode (the horizon, or the truncation of the discounted form)."""

    @property
    def pomdp(self) -> exact_pomdp.POMDPModel:
        """The model in the solvers' form."""
        ...

    def decode_observation(self, obs: Any) -> int:
        """The model observation of an env observation."""
        ...

    def belief_update(self, belief: np.ndarray, action: int, observation: int) -> np.ndarray:
        """The Bayes filter: the posterior belief after ``action`` and ``observation``."""
        ...

    def pseudo_regret(self, policy: Any, max_branches: int = ..., window: int | None = None) -> float | None:
        """Exact pseudo-regret of a deterministic history (or window) policy; ``None`` when too big."""
        ...

    def pbvi_solution(self) -> exact_pomdp.PBVIResult:
        """The PBVI α-vectors of the discounted form."""
        ...


@runtime_checkable
class RLHFSandbox(Protocol):
    """The contract of ``rlhf``: the sequence face of the RLHF sandbox, what the sequence agents read."""

    task: RLHFTask
    """The task: prompts, gold reward, preferences."""
    reference: SequencePolicy
    """The frozen reference policy π_ref."""
    beta: float
    """The KL coefficient β of the regret."""

    def attach_policy(self, policy: SequencePolicy, temperature: float = 1.0) -> None:
        """Report the exact KL-regularised suboptimality of ``policy`` as regret."""
        ...

    def policy_updated(self) -> None:
        """Forget the cached suboptimality after an update of the attached policy."""
        ...


#: How an error message names each contract.
_WHAT: dict[Any, str] = {
    StochasticBandit: "a stochastic bandit",
    RewardNoiseModel: "a bandit with a named reward law",
    LinearBanditModel: "a linear bandit",
    LinearContextualBanditModel: "a linear contextual bandit",
    StagewiseConstrained: "a stage-wise constrained env",
    ConstrainedMABModel: "a stage-wise constrained multi-armed bandit with a known safe arm",
    ConstrainedLinearModel: "a constrained linear bandit",
    StagewiseLinearModel: "a constrained linear bandit with a known safe action",
    SolverTuning: "a solver-tuning env",
    FiniteMDPModel: "a finite MDP with an exact model",
    LinearMDPModel: "a linear MDP with known features",
    BlockMDPDecoder: "a block MDP with its latent decoder",
    TabularPOMDP: "a tabular POMDP env",
    RLHFSandbox: "the RLHF sequence sandbox",
}


# ------------------------------------------------------------------------------------------ functions
def members(contract: Contract[Any]) -> tuple[str, ...]:
    """The attributes and methods a contract names, base contracts' first."""
    names: list[str] = []
    for klass in reversed(cast(type, contract).__mro__):
        if not getattr(klass, "_is_protocol", False) or klass is Protocol:
            continue
        names.extend(getattr(klass, "__annotations__", {}))
        names.extend(
            n
            for n, v in vars(klass).items()
            if not n.startswith("_") and (callable(v) or isinstance(v, property))
        )
    return tuple(dict.fromkeys(names))


def name(contract: Contract[Any]) -> str:
    """The contract's class name."""
    return cast(type, contract).__name__


def describe(contract: Contract[Any]) -> str:
    """How messages name a contract: ``a linear bandit (env.unwrapped.noise_sd_bound, model, ...)``."""
    what = _WHAT.get(contract, f"a {name(contract)} env")
    return f"{what} (env.unwrapped.{', '.join(members(contract))})"


def satisfies(given: Contract[Any] | None, required: Requirement) -> bool:
    """Whether ``given`` names everything ``required`` does (any one of a tuple); ``None`` names nothing."""
    if required is None:
        return True
    if given is None:
        return False
    options = required if isinstance(required, tuple) else (required,)
    have = set(members(given))
    return any(set(members(r)) <= have for r in options)


class VectorView:
    """Reads through a Gymnasium ``VectorEnv`` the way an agent reads a single env's ``env.unwrapped``.

    An attribute of the vector env itself wins (rl_suite's bandit vector envs share their single env's);
    otherwise the sub-envs' values (``get_attr``): their common value, or an ``(R,)`` array when they differ.
    """

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        env = self._env
        if hasattr(env, attr):
            return getattr(env, attr)
        if not hasattr(env, "get_attr"):
            raise AttributeError(attr)
        values = tuple(env.get_attr(attr))
        if all(np.array_equal(v, values[0]) for v in values):
            return values[0]
        return np.asarray(values)

    def __repr__(self) -> str:
        return f"VectorView({self._env!r})"


def _target(env: Any) -> Any:
    """``env.unwrapped`` (through any wrappers), or a :class:`VectorView` of a vector env."""
    import gymnasium as gym

    base = env.unwrapped
    return VectorView(base) if isinstance(base, gym.vector.VectorEnv) else base


def _present(obj: Any, attr: str) -> bool:
    """Whether ``obj`` has ``attr``, without running a property where that can be avoided."""
    try:
        inspect.getattr_static(obj, attr)
        return True
    except AttributeError:
        pass
    # Attributes served by __getattr__ (a VectorView, a vector env delegating to its single env).
    return hasattr(type(obj), "__getattr__") and hasattr(obj, attr)


def missing(env: Any, contract: Contract[Any]) -> list[str]:
    """The members of ``contract`` that ``env`` (seen as an agent sees it) lacks."""
    target = _target(env)
    return [m for m in members(contract) if not _present(target, m)]


def find(env: Any, contract: Contract[P]) -> P | None:
    """``env`` typed as ``contract`` when it provides every member, else ``None`` (for optional reads)."""
    return None if missing(env, contract) else cast(P, _target(env))


def view(env: Any, contract: Contract[P], who: str, setting: str | None = None, hint: str | None = None) -> P:
    """``env`` typed as ``contract``, or one :class:`UserError` line naming what it lacks and who has it.

    Args:
        env: The env the agent was built on (wrappers and vector envs are seen through).
        contract: The contract to read.
        who: The agent, as messages name it.
        setting: The setting that made the read necessary (e.g. ``"R='auto'"``), if any.
        hint: What the user can do instead (e.g. ``"set R to a number"``), if anything.
    """
    lacks = missing(env, contract)
    if not lacks:
        return cast(P, _target(env))
    from rl_suite import registry

    base = env.unwrapped
    providers = registry.envs_providing(contract)
    parts = [
        f"{who}{f': {setting}' if setting else ''} needs {describe(contract)}, which "
        f"{type(base).__name__} does not provide (it lacks {', '.join(lacks)})",
        *([hint] if hint else []),
        f"envs that provide it: {', '.join(providers) or 'none registered'}",
    ]
    raise UserError("; ".join(parts))
