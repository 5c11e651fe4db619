"""Solvers for tabular POMDPs: ``from rl_suite.exact import pomdp``, then ``pomdp.belief_tree_value(model)``.

* :mod:`~rl_suite.exact.pomdp.solvers` — :class:`POMDPModel` (the conventions are there), the exact belief
  tree, the QMDP upper bound and the PBVI lower bound on ``V*``;
* :mod:`~rl_suite.exact.pomdp.policies` — the exact value of history, window and memoryless policies and
  the search for the best window policy.
"""

from rl_suite.exact.pomdp.policies import (
    WindowPolicyResult,
    best_window_policy,
    evaluate_history_policy,
    evaluate_memoryless_policy,
    evaluate_window_policy,
    memoryless_policies,
    projected_window_policy,
)
from rl_suite.exact.pomdp.solvers import (
    BRANCH_EPS,
    DEDUPE_DECIMALS,
    BeliefTreePlan,
    BeliefTreeResult,
    History,
    HistoryPolicy,
    PBVIResult,
    POMDPModel,
    QMDPResult,
    as_model,
    belief_tree_plan,
    belief_tree_value,
    blind_alphas,
    expand_beliefs,
    initial_beliefs,
    make_model,
    pbvi,
    qmdp,
)

__all__ = [
    "BRANCH_EPS",
    "DEDUPE_DECIMALS",
    "BeliefTreePlan",
    "BeliefTreeResult",
    "History",
    "HistoryPolicy",
    "PBVIResult",
    "POMDPModel",
    "QMDPResult",
    "WindowPolicyResult",
    "as_model",
    "belief_tree_plan",
    "belief_tree_value",
    "best_window_policy",
    "blind_alphas",
    "evaluate_history_policy",
    "evaluate_memoryless_policy",
    "evaluate_window_policy",
    "expand_beliefs",
    "initial_beliefs",
    "make_model",
    "memoryless_policies",
    "pbvi",
    "projected_window_policy",
    "qmdp",
]
