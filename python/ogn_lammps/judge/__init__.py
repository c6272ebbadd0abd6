"""Stage 4, judging a model: its Python rollout (`rollout`), fix ogn on held-out states
(`validate`), a rollout against the ground truth (`evaluate`), velocity-Verlet at k x dt
(`contrast`), long runs (`physics`), the report of every shipped model (`results`) and the
loss against the stride (`loss_vs_k`)."""
