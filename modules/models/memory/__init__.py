"""Where every module's weights live: one owner, A1111's memory flags as policies.

``policy`` decides from numbers (free device memory, the reserve setting, the size of each part);
``units`` moves a group of modules' weights between their home (CPU) tensors and the compute device;
``transfer`` copies synchronously or prefetches on a second CUDA stream; ``placement`` applies a plan to
a model with forward hooks on its modules and reports what is where.
"""
