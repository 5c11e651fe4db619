"""The tables of env ids and agents.

They are the single source for `rl-suite envs`, `rl-suite agents`, registration and pairing checks.

Env entry points are strings so that ``import rl_suite`` stays cheap: a family's module is imported only
when one of its envs is made. Every env family has a typed contract (:data:`FAMILY_CONTRACTS`, the protocols
of :mod:`rl_suite.contracts`): what an agent may read from its envs. Agents are found by short name
(``linucb``) and declare the contract they need (their class's ``requires``); the families they support
follow from it: every family whose contract gives all they need. Only where the contract cannot decide — an
agent that reads nothing from the env, or that needs observations or actions which not every family of its
contract has — does the agent's entry list its families (``only``). A pairing outside an agent's families
is a :class:`~rl_suite.errors.UserError`, not a crash.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

from rl_suite import contracts
from rl_suite.errors import UserError, did_you_mean

NAMESPACE = "rl_suite"

#: Env families (each with its contract in :data:`FAMILY_CONTRACTS`).
LINEAR_BANDIT = "linear_bandit"
MULTI_ARMED_BANDIT = "multi_armed_bandit"
CONSTRAINED_MAB = "constrained_mab"
CONSTRAINED_LINEAR = "constrained_linear"
SAFE_LINEAR = "safe_linear"
SOLVER_TUNING = "solver_tuning"
LINEAR_MDP = "linear_mdp"
BLOCK_MDP = "block_mdp"
TABULAR_MDP = "tabular_mdp"
POMDP = "pomdp"
#: Deterministic MiniGrid levels enumerated into finite-horizon MDPs (image observations).
MINIGRID = "minigrid"
#: Sequence-level RLHF (whole responses; the sequence agents) and its token-level face (SB3 and friends).
RLHF = "rlhf"
RLHF_TOKEN = "rlhf_token"

#: What an agent may read from every env of a family (``None``: nothing beyond the Gymnasium API).
#: tests/test_contracts.py checks every registered env against its family's contract.
FAMILY_CONTRACTS: dict[str, contracts.Contract[Any] | None] = {
    LINEAR_BANDIT: contracts.LinearContextualBanditModel,
    MULTI_ARMED_BANDIT: contracts.RewardNoiseModel,
    CONSTRAINED_MAB: contracts.ConstrainedMABModel,
    CONSTRAINED_LINEAR: contracts.StagewiseLinearModel,
    SAFE_LINEAR: contracts.ConstrainedLinearModel,
    SOLVER_TUNING: contracts.SolverTuning,
    LINEAR_MDP: contracts.LinearMDPModel,
    BLOCK_MDP: contracts.BlockMDPDecoder,
    TABULAR_MDP: contracts.FiniteMDPModel,
    POMDP: contracts.TabularPOMDP,
    MINIGRID: contracts.FiniteMDPModel,
    RLHF: contracts.RLHFSandbox,
    RLHF_TOKEN: None,
}
#: Families whose envs report ``cost`` and ``violation`` in ``info`` (recorded and summarised as well):
#: the stage-wise constrained ones.
CONSTRAINED_FAMILIES: tuple[str, ...] = tuple(
    f for f, c in FAMILY_CONTRACTS.items() if contracts.satisfies(c, contracts.StagewiseConstrained)
)


@dataclass(frozen=True)
class EnvEntry:
    """One registered env id."""

    id: str
    entry_point: str
    family: str
    summary: str
    vector_entry_point: str | None = None
    reference: str = ""
    #: Constructor defaults the id fixes (e.g. which toy-text env an adapter wraps).
    kwargs: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class AgentEntry:
    """One agent, by its short CLI name."""

    name: str
    entry_point: str
    summary: str
    reference: str = ""
    #: Extra pip requirement the agent needs beyond the core install, if any.
    requires: str | None = None
    #: The env families, only where the agent's contract cannot decide them: it reads nothing from the env
    #: (``requires = None``), or not every family of its contract has the observations or actions it needs.
    #: ``None`` derives them from the contract; a list must stay within what the contract allows.
    only: tuple[str, ...] | None = None

    @property
    def families(self) -> tuple[str, ...]:
        """The env families the agent supports (``only``, or those its contract derives)."""
        return supported_families(self)


ENVS: tuple[EnvEntry, ...] = (
    EnvEntry(
        id=f"{NAMESPACE}/LinearContextualBandit-v0",
        entry_point="rl_suite.envs.bandits.linear:LinearContextualBandit",
        vector_entry_point="rl_suite.envs.bandits.linear:LinearContextualBanditVectorEnv",
        family=LINEAR_BANDIT,
        summary="Linear contextual bandit: disjoint or shared parameter, Gaussian or Bernoulli rewards",
        reference="Li et al. 2010; Abbasi-Yadkori et al. 2011",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/MultiArmedBandit-v0",
        entry_point="rl_suite.envs.bandits.multi_armed:MultiArmedBandit",
        vector_entry_point="rl_suite.envs.bandits.multi_armed:MultiArmedBanditVectorEnv",
        family=MULTI_ARMED_BANDIT,
        summary="K-armed stochastic bandit with Bernoulli or Gaussian arms",
        reference="Lattimore & Szepesvári 2020, ch. 4",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/ConstrainedMAB-v0",
        entry_point="rl_suite.envs.constrained.multi_armed:ConstrainedMAB",
        vector_entry_point="rl_suite.envs.constrained.multi_armed:ConstrainedMABVectorEnv",
        family=CONSTRAINED_MAB,
        summary="Multi-armed bandit with a stage-wise expected-cost constraint; the action is a policy",
        reference="Pacchiano et al. 2021",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/StagewiseConstrainedLinearBandit-v0",
        entry_point="rl_suite.envs.constrained.linear:StagewiseConstrainedLinearBandit",
        vector_entry_point="rl_suite.envs.constrained.linear:StagewiseConstrainedLinearBanditVectorEnv",
        family=CONSTRAINED_LINEAR,
        summary="Contextual linear bandit with linear costs, constrained in expectation every round",
        reference="Pacchiano et al. 2021, 2024",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/SafeLinearBandit-v0",
        entry_point="rl_suite.envs.constrained.safe_linear:SafeLinearBandit",
        vector_entry_point="rl_suite.envs.constrained.safe_linear:SafeLinearBanditVectorEnv",
        family=SAFE_LINEAR,
        summary="Linear bandit on a star-convex action set; the played action's cost must stay under tau",
        reference="Pacchiano et al. 2024; Amani et al. 2019",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/SORTuning-v0",
        entry_point="rl_suite.envs.solver_tuning.env:SORTuning",
        family=SOLVER_TUNING,
        summary="Choose SOR's relaxation parameter per linear system; cost = iterations, exact table",
        reference="Khodak et al. 2024",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/SSORCGTuning-v0",
        entry_point="rl_suite.envs.solver_tuning.env:SSORCGTuning",
        family=SOLVER_TUNING,
        summary="Choose the SSOR preconditioner's omega for CG per linear system; cost = iterations",
        reference="Khodak et al. 2024",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/SimplexLinearMDP-v0",
        entry_point="rl_suite.envs.linear_mdp.simplex:SimplexLinearMDP",
        family=LINEAR_MDP,
        summary="Random exactly-linear MDP with Dirichlet simplex features; exact V* by backward induction",
        reference="Jin et al. 2020",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/LinearChainLock-v0",
        entry_point="rl_suite.envs.linear_mdp.chain_lock:LinearChainLock",
        family=LINEAR_MDP,
        summary="A combination lock written as an exact linear MDP: optimism is needed",
        reference="Jin et al. 2020 (setting)",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/DiabolicalCombLock-v0",
        entry_point="rl_suite.envs.lowrank.comblock:DiabolicalCombLock",
        family=BLOCK_MDP,
        summary="Rich-observation block MDP with Hadamard or random-MLP emissions; V* = 1",
        reference="Misra et al. 2020; Zhang et al. 2022 (BRIEE)",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/FrozenLakeFiniteHorizon-v0",
        entry_point="rl_suite.envs.toy_text.adapters:ToyTextFiniteHorizon",
        family=TABULAR_MDP,
        summary="Gymnasium's FrozenLake as a finite-horizon MDP with its exact optimum",
        reference="Gymnasium toy text",
        kwargs=(("name", "FrozenLake"),),
    ),
    EnvEntry(
        id=f"{NAMESPACE}/CliffWalkingFiniteHorizon-v0",
        entry_point="rl_suite.envs.toy_text.adapters:ToyTextFiniteHorizon",
        family=TABULAR_MDP,
        summary="Gymnasium's CliffWalking as a finite-horizon MDP with its exact optimum",
        reference="Gymnasium toy text; Sutton & Barto 2018",
        kwargs=(("name", "CliffWalking"),),
    ),
    EnvEntry(
        id=f"{NAMESPACE}/TaxiFiniteHorizon-v0",
        entry_point="rl_suite.envs.toy_text.adapters:ToyTextFiniteHorizon",
        family=TABULAR_MDP,
        summary="Gymnasium's Taxi as a finite-horizon MDP with its exact optimum",
        reference="Gymnasium toy text; Dietterich 2000",
        kwargs=(("name", "Taxi"),),
    ),
    EnvEntry(
        id=f"{NAMESPACE}/Tiger-v0",
        entry_point="rl_suite.envs.pomdp.tiger:Tiger",
        family=POMDP,
        summary="The tiger problem: listen or open a door; finite-horizon or discounted forms",
        reference="Kaelbling, Littman & Cassandra 1998",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/TMaze-v0",
        entry_point="rl_suite.envs.pomdp.tmaze:TMaze",
        family=POMDP,
        summary="T-maze with a corridor of length L: the cue is seen only at the start (memory needed)",
        reference="Bakker 2002",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/RockSample-v0",
        entry_point="rl_suite.envs.pomdp.rocksample:RockSample",
        family=POMDP,
        summary="RockSample(n, k) with the standard 7x8 and small layouts; PBVI/QMDP bracket",
        reference="Smith & Simmons 2004",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/HeavenHell-v0",
        entry_point="rl_suite.envs.pomdp.heaven_hell:HeavenHell",
        family=POMDP,
        summary="Heaven/Hell: visit the priest to learn which side is heaven",
        reference="Geffner & Bonet 1998",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/RevealingPOMDP-v0",
        entry_point="rl_suite.envs.pomdp.revealing:RevealingPOMDP",
        family=POMDP,
        summary="Random m-step alpha-revealing tabular POMDPs (alpha and m are knobs)",
        reference="Liu, Chung, Szepesvari & Jin 2022",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/LayeredLureMDP-v0",
        entry_point="rl_suite.envs.layered.lure:LayeredLureMDP",
        family=TABULAR_MDP,
        summary="Random layered stochastic MDP; its lure depth sets min_k (effective horizon); sticky option",
        reference="Laidlaw et al. 2024 (SQIRL)",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/MiniGridFiniteHorizon-v0",
        entry_point="rl_suite.envs.minigrid.adapter:MiniGridFiniteHorizon",
        family=MINIGRID,
        summary="Deterministic MiniGrid level enumerated into a finite-horizon MDP; image obs; sticky option",
        reference="Chevalier-Boisvert et al. 2023; Laidlaw et al. 2023 (BRIDGE)",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/RLHFSequence-v0",
        entry_point="rl_suite.envs.rlhf.env:RLHFSequence",
        family=RLHF,
        summary="Prompt -> whole response with a gold reward; exact pi* and V* of KL-regularised RLHF",
        reference="Gao et al. 2024 (REBEL); Brantley et al. 2025 (A*-PO)",
    ),
    EnvEntry(
        id=f"{NAMESPACE}/RLHFToken-v0",
        entry_point="rl_suite.envs.rlhf.env:RLHFToken",
        family=RLHF_TOKEN,
        summary="The RLHF sandbox one token per step (reward at the end), for SB3 and Gymnasium agents",
        reference="Ouyang et al. 2022; Gao et al. 2024",
    ),
)

#: Families whose default spaces DQN can run on: Discrete actions, Discrete or Box observations.
_SB3_DISCRETE_FAMILIES = (
    LINEAR_BANDIT,
    MULTI_ARMED_BANDIT,
    SOLVER_TUNING,
    LINEAR_MDP,
    BLOCK_MDP,
    TABULAR_MDP,
    POMDP,
    RLHF_TOKEN,
    MINIGRID,
)
#: Families whose default spaces the policy-gradient SB3 agents (PPO, A2C, recurrent PPO) run on: those and
#: the constrained bandits, whose default actions are Box vectors (policy weights the env normalises;
#: direction scores and a scale). Costs and violations are recorded as for the suite's constrained agents.
_SB3_FAMILIES = (
    *_SB3_DISCRETE_FAMILIES[:3],
    CONSTRAINED_MAB,
    CONSTRAINED_LINEAR,
    SAFE_LINEAR,
    *_SB3_DISCRETE_FAMILIES[3:],
)

AGENTS: tuple[AgentEntry, ...] = (
    AgentEntry(
        "linucb",
        "rl_suite.agents.linucb:LinUCB",
        "LinUCB with disjoint linear models (Sherman-Morrison updates)",
        "Li et al. 2010, Alg. 1",
    ),
    AgentEntry(
        "linucb-hybrid",
        "rl_suite.agents.hybrid_linucb:HybridLinUCB",
        "LinUCB with hybrid (shared + per-arm) linear models",
        "Li et al. 2010, Alg. 2",
        only=(LINEAR_BANDIT,),
    ),
    AgentEntry(
        "oful",
        "rl_suite.agents.oful:OFUL",
        "OFUL: optimism with the theoretical self-normalised confidence radius",
        "Abbasi-Yadkori et al. 2011",
    ),
    AgentEntry(
        "suplinucb",
        "rl_suite.agents.suplinucb:SupLinUCB",
        "SupLinUCB: LinUCB over ln T stages of independent samples with arm elimination",
        "Chu et al. 2011",
        only=(LINEAR_BANDIT,),
    ),
    AgentEntry(
        "ds-oful",
        "rl_suite.agents.ds_oful:DSOFUL",
        "DS-OFUL: OFUL regressing only on rounds whose width ||x||_{U^-1} >= Gamma (misspecification)",
        "Zhang et al. 2023",
        only=(LINEAR_BANDIT,),
    ),
    AgentEntry(
        "disbe-lucb",
        "rl_suite.agents.disbe_lucb:DisBELUCB",
        "DisBE-LUCB: N agents, batch elimination, a server syncing on doubling batches (Ray actors optional)",
        "Amani et al. 2023",
        only=(LINEAR_BANDIT,),
    ),
    AgentEntry(
        "sa-lasso-bandit",
        "rl_suite.agents.sa_lasso_bandit:SALassoBandit",
        "SA LASSO BANDIT: greedy on a Lasso estimate, lambda_t = lambda0 sqrt((4 ln t + 2 ln d)/t)",
        "Oh, Iyengar & Zeevi 2021",
        only=(LINEAR_BANDIT,),
    ),
    AgentEntry(
        "lin-ts",
        "rl_suite.agents.lin_ts:LinTS",
        "Linear Thompson sampling (Gaussian posterior, scale v)",
        "Agrawal & Goyal 2013",
    ),
    AgentEntry(
        "epsilon-greedy",
        "rl_suite.agents.epsilon_greedy:EpsilonGreedy",
        "epsilon-greedy on ridge estimates (sample means on the multi-armed env)",
        "Sutton & Barto 2018, §2.2",
    ),
    AgentEntry(
        "ucb1",
        "rl_suite.agents.ucb1:UCB1",
        "UCB1 index policy",
        "Auer, Cesa-Bianchi & Fischer 2002",
        only=(MULTI_ARMED_BANDIT, CONSTRAINED_MAB, SOLVER_TUNING),
    ),
    AgentEntry(
        "bernoulli-ts",
        "rl_suite.agents.bernoulli_ts:BernoulliTS",
        "Thompson sampling with Beta posteriors (Bernoulli rewards)",
        "Thompson 1933; Agrawal & Goyal 2012",
        only=(MULTI_ARMED_BANDIT, CONSTRAINED_MAB),
    ),
    AgentEntry(
        "opb",
        "rl_suite.agents.opb:OPB",
        "Optimistic-pessimistic bandit: exact two-arm LP on optimistic rewards, pessimistic costs",
        "Pacchiano et al. 2021",
    ),
    AgentEntry(
        "oplb",
        "rl_suite.agents.oplb:OPLB",
        "Optimistic-pessimistic linear bandit (in-expectation constraint, known safe action)",
        "Pacchiano et al. 2021",
    ),
    AgentEntry(
        "safe-linucb",
        "rl_suite.agents.safe_linucb:SafeLinUCB",
        "Safe LinUCB: pessimistic scaling of every direction, optimistic choice (high probability)",
        "Pacchiano et al. 2024; Amani et al. 2019",
        only=(SAFE_LINEAR,),
    ),
    AgentEntry(
        "lagrangian",
        "rl_suite.agents.lagrangian:Lagrangian",
        "Primal-dual wrapper: any bandit agent on r - lambda*c, dual ascent on lambda",
        "Paternain et al. 2019; Efroni et al. 2020",
    ),
    AgentEntry(
        "tsallis-inf",
        "rl_suite.agents.tsallis_inf:TsallisINF",
        "1/2-Tsallis-INF (robust Newton normaliser), optimal in adversarial and stochastic regimes",
        "Zimmert & Seldin 2021; Khodak et al. 2024",
        only=(SOLVER_TUNING, MULTI_ARMED_BANDIT),
    ),
    AgentEntry(
        "tsallis-inf-cb",
        "rl_suite.agents.tsallis_inf:TsallisINFCB",
        "One Tsallis-INF per bin of a scalar context",
        "Khodak et al. 2024",
    ),
    AgentEntry(
        "chebcb",
        "rl_suite.agents.chebcb:ChebCB",
        "Chebyshev-feature regression of each arm's cost on the context + inverse-gap weighting",
        "Khodak et al. 2024; Foster & Rakhlin 2020",
    ),
    AgentEntry(
        "exp3",
        "rl_suite.agents.exp3:EXP3",
        "EXP3 exponential weights on importance-weighted losses",
        "Auer et al. 2002",
        only=(SOLVER_TUNING, MULTI_ARMED_BANDIT),
    ),
    AgentEntry(
        "fixed-arm",
        "rl_suite.agents.fixed_arm:FixedArm",
        "Plays one fixed arm (the fixed-omega baseline)",
        "Khodak et al. 2024",
        only=(SOLVER_TUNING, MULTI_ARMED_BANDIT),
    ),
    AgentEntry(
        "instance-oracle",
        "rl_suite.agents.instance_oracle:InstanceOracle",
        "Plays the instance-optimal grid omega of every round (reference, reads the env's table)",
        "Khodak et al. 2024",
    ),
    AgentEntry(
        "lsvi-ucb",
        "rl_suite.agents.lsvi_ucb:LSVIUCB",
        "LSVI-UCB with Sherman-Morrison inverses and finite-state sufficient statistics",
        "Jin et al. 2020",
    ),
    AgentEntry(
        "eps-lsvi",
        "rl_suite.agents.lsvi_ucb:EpsLSVI",
        "epsilon-greedy least-squares value iteration (no optimism)",
        "Jin et al. 2020 (baseline)",
    ),
    AgentEntry(
        "briee-lite",
        "rl_suite.agents.briee_lite:BRIEELite",
        "Learns a latent decoder per step from the rich observations, LSVI-UCB on the decoded states",
        "Zhang et al. 2022 (BRIEE)",
    ),
    AgentEntry(
        "ucbvi",
        "rl_suite.agents.ucbvi:UCBVI",
        "UCBVI with a Hoeffding bonus on the tabular view",
        "Azar et al. 2017",
        only=(LINEAR_MDP, TABULAR_MDP),
    ),
    AgentEntry(
        "mdp-oracle",
        "rl_suite.agents.mdp_oracle:MDPOracle",
        "Plays the optimal policy from the env's exact Q* (reference)",
        "Puterman 1994",
        only=(LINEAR_MDP, TABULAR_MDP),
    ),
    AgentEntry(
        "window-ucbvi",
        "rl_suite.agents.window_ucbvi:WindowUCBVI",
        "UCBVI (Hoeffding bonus) on the last w observation-action pairs; exact per-episode pseudo-regret",
        "Azar et al. 2017; Golowich et al. 2023",
    ),
    AgentEntry(
        "omle-lite",
        "rl_suite.agents.omle_lite:OMLELite",
        "Sampled likelihood confidence set over the emission law + optimistic exact belief-tree planning",
        "Liu, Chung, Szepesvari & Jin 2022 (OMLE)",
    ),
    AgentEntry(
        "belief-planner",
        "rl_suite.agents.belief_planner:BeliefPlanner",
        "Optimal policy of the true model: belief tree (finite H) or PBVI alpha-vectors (reference)",
        "Kaelbling et al. 1998; Pineau et al. 2003",
    ),
    AgentEntry(
        "sqirl",
        "rl_suite.agents.sqirl:SQIRL",
        "SQIRL: random exploration + k-head fitted-Q regression, one timestep per iteration",
        "Laidlaw et al. 2024 (ICLR)",
        only=(TABULAR_MDP, MINIGRID),
    ),
    AgentEntry(
        "gorp",
        "rl_suite.agents.gorp:GORP",
        "GORP: greedy over random-policy returns of k-action sequences (open loop)",
        "Laidlaw et al. 2023 (NeurIPS)",
        only=(TABULAR_MDP, MINIGRID),
    ),
    AgentEntry(
        "ppo",
        "rl_suite.agents.sb3:PPOAgent",
        "Stable-Baselines3 PPO through the adapter",
        "Schulman et al. 2017",
        only=_SB3_FAMILIES,
    ),
    AgentEntry(
        "a2c",
        "rl_suite.agents.sb3:A2CAgent",
        "Stable-Baselines3 A2C through the adapter",
        "Mnih et al. 2016",
        only=_SB3_FAMILIES,
    ),
    AgentEntry(
        "dqn",
        "rl_suite.agents.sb3:DQNAgent",
        "Stable-Baselines3 DQN through the adapter",
        "Mnih et al. 2015",
        only=_SB3_DISCRETE_FAMILIES,
    ),
    AgentEntry(
        "recurrent-ppo",
        "rl_suite.agents.sb3:RecurrentPPOAgent",
        "sb3-contrib RecurrentPPO (LSTM policy) through the adapter",
        "sb3-contrib",
        only=_SB3_FAMILIES,
        requires="sb3-contrib",
    ),
    AgentEntry(
        "ppo-framestack",
        "rl_suite.agents.sb3:PPOFrameStackAgent",
        "Stable-Baselines3 PPO on the last k observations (Gymnasium FrameStackObservation, k=4)",
        "Schulman et al. 2017; Mnih et al. 2015 (frame stacking)",
        only=(POMDP,),
    ),
    AgentEntry(
        "rebel",
        "rl_suite.agents.rebel:REBEL",
        "REBEL: regress relative log-ratios of 2 on-policy responses onto eta x reward difference",
        "Gao et al. 2024 (arXiv 2404.16767)",
    ),
    AgentEntry(
        "a-star-po",
        "rl_suite.agents.a_star_po:APO",
        "A*-PO: offline V* from N reference samples, then 1-sample optimal-advantage regression",
        "Brantley et al. 2025 (arXiv 2505.20686)",
    ),
    AgentEntry(
        "grpo",
        "rl_suite.agents.grpo:GRPO",
        "GRPO: G samples per prompt, group-normalised advantages, clipped surrogate (TRL defaults)",
        "Shao et al. 2024",
    ),
    AgentEntry(
        "rloo",
        "rl_suite.agents.rloo:RLOO",
        "RLOO: k samples per prompt, leave-one-out baseline on the KL-shaped reward",
        "Ahmadian et al. 2024",
    ),
    AgentEntry(
        "online-dpo",
        "rl_suite.agents.online_dpo:OnlineDPO",
        "Online DPO: 2 on-policy samples judged by the reward, one DPO (or IPO) step",
        "Guo et al. 2024",
    ),
    AgentEntry(
        "dpo",
        "rl_suite.agents.dpo:DPO",
        "Offline DPO on a pi_ref preference dataset (evaluated on fresh generations)",
        "Rafailov et al. 2023",
    ),
    AgentEntry(
        "ipo",
        "rl_suite.agents.dpo:IPO",
        "Offline IPO: squared loss to a 1/(2 beta) margin (TRL's length-normalised form)",
        "Azar et al. 2023",
    ),
    AgentEntry(
        "chi-po",
        "rl_suite.agents.dpo:ChiPO",
        "Offline chi-PO: DPO with the chi-squared link z + log z and clipped margins",
        "Huang et al. 2024 (arXiv 2407.13399)",
    ),
    AgentEntry(
        "reward-model",
        "rl_suite.agents.reward_model:RewardModelAgent",
        "Bradley-Terry reward model learned online, playing best-of-n reranked pi_ref samples",
        "Ouyang et al. 2022; TRL RewardTrainer",
    ),
)


def register_envs() -> None:
    """Register every env id with Gymnasium. Idempotent: ids already registered are left alone."""
    import gymnasium

    for entry in ENVS:
        if entry.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            disable_env_checker=False,
            kwargs=dict(entry.kwargs),
        )


def env_ids() -> list[str]:
    """All env ids of the suite, sorted."""
    return sorted(e.id for e in ENVS)


def env_entry(env_id: str) -> EnvEntry:
    """Look up an env id (``rl_suite/X-v0``; ``rl_suite:rl_suite/X-v0`` and a bare ``X-v0`` are accepted)."""
    wanted = env_id.split(":", 1)[-1]
    for entry in ENVS:
        if wanted in (entry.id, entry.id.split("/", 1)[1]):
            return entry
    raise UserError(
        f"unknown env id {env_id!r}{did_you_mean(wanted, env_ids())} (run `rl-suite envs` for the list)"
    )


def agent_names() -> list[str]:
    """All agent short names, in table order."""
    return [a.name for a in AGENTS]


def agent_entry(name: str) -> AgentEntry:
    """Look up an agent by short name."""
    for entry in AGENTS:
        if entry.name == name:
            return entry
    raise UserError(
        f"unknown agent {name!r}{did_you_mean(name, agent_names())}; known agents: {', '.join(agent_names())}"
    )


@functools.cache
def supported_families(entry: AgentEntry) -> tuple[str, ...]:
    """The env families of an agent: its entry's ``only``, else those whose contract gives what it needs.

    What it needs is its class's ``requires`` (so this imports the agent's module).
    """
    if entry.only is not None:
        return entry.only
    requires = load_entry_point(entry.entry_point).requires
    if requires is None:
        raise TypeError(f"agent {entry.name!r} requires no contract: its registry entry must list `only`")
    return tuple(f for f, c in FAMILY_CONTRACTS.items() if contracts.satisfies(c, requires))


def envs_providing(contract: contracts.Requirement) -> list[str]:
    """The env ids whose family's contract gives ``contract``, in table order."""
    return [e.id for e in ENVS if contracts.satisfies(FAMILY_CONTRACTS[e.family], contract)]


def check_pairing(agent: str, env_id: str) -> None:
    """Raise a :class:`UserError` if ``agent`` does not support the family of ``env_id``."""
    a, e = agent_entry(agent), env_entry(env_id)
    if e.family not in a.families:
        fits = [x.name for x in AGENTS if e.family in x.families]
        raise UserError(
            f"agent {agent!r} does not support {e.id} (family {e.family!r}; {agent} supports "
            f"{', '.join(a.families)}); agents for this env: {', '.join(fits)}"
        )


def load_entry_point(entry_point: str) -> Any:
    """Import ``module:attr`` and return the attribute."""
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)
