"""
The paper's target side: iterative knowledge distillation on unlabelled checkout images.

Consistency check (detection view vs counting view) -> pseudo labels -> instance-level
refinement. Pure functions, tested alone; the training-loop wiring is in dpsnet_d2.engine.
"""
