"""The RLHF sandbox: prompt → response tasks whose KL-regularised optimum is computed exactly."""
