"""lessonbench: a lesson's training tricks and its claims, measured over seeds (the digits lesson by default)."""

import os

# Intel MKL (torch's CPU matrix products) picks kernels by memory alignment unless told to use one
# code path; a seed's slice of a stacked product sits at a different alignment for different K.
# "AVX2,STRICT" pins the path, so seed k's numbers do not depend on how many seeds share its stack.
# It must be set before MKL's first call, hence here, before anything imports torch.
os.environ.setdefault("MKL_CBWR", "AVX2,STRICT")

__version__ = "0.1.0"
