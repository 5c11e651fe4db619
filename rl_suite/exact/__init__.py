"""The exact core: pure solvers that the envs (for their optima and exact regret) and the agents share.

Every module here is a function of arrays (or of a task description from :mod:`rl_suite.rlhf`) and
imports no env, no agent and no part of the run store; ``tests/test_layers.py`` enforces it.

* :mod:`~rl_suite.exact.tabular` — backward induction and policy evaluation of finite-horizon MDPs, and
  the optimistic backward induction of the UCBVI-style agents;
* :mod:`~rl_suite.exact.pomdp` — tabular POMDPs: belief-tree expectimax, QMDP, PBVI, exact evaluation of
  history, window and memoryless policies, the best window policy;
* :mod:`~rl_suite.exact.kl` — the KL-regularised optimum ``π* ∝ π_ref·exp(r/β)``, ``V*_β`` and the
  suboptimality of a policy over enumerated responses;
* :mod:`~rl_suite.exact.evaluate` — the value of a frozen policy next to ``V*`` and the uniform policy's
  (finite MDPs, bandit contexts, RLHF), the numbers behind exact learning curves (``eval_every``);
* :mod:`~rl_suite.exact.lp` — exact optima of stage-wise constrained bandit rounds;
* :mod:`~rl_suite.exact.effective_horizon` — the effective-horizon kernels (``min_k``, sticky models).
"""
