"""
The paper's target side: iterative knowledge distillation on unlabelled checkout images.

Label-free target loading (targets) -> consistency check (detection view vs counting view) ->
pseudo labels -> instance-level refinement, and the run's report; pure functions, tested alone.
The training-loop wiring is in dpsnet_d2.engine (DistillTrainer, DistillationHook). ``audit``
compares written labels with ground truth after a run, for analysis only.
"""
