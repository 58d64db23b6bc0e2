#!/usr/bin/env python3
"""MetadataCreator, as in the API document: PoolMetadata for numpy, torch (CPU) and,
where a GPU is present, CUDA tensors. Needs no daemon.

    python3 examples/python/metadata.py
"""

import numpy as np
import torch

from tensor_ipc import MetadataCreator

# NumPy example
np_data = np.random.rand(224, 224, 3).astype(np.float32)
metadata = MetadataCreator.from_numpy_sample(
    name="image_pool",
    sample_data=np_data,
    history_len=10
)
print(metadata)

# PyTorch CPU example
torch_data = torch.randn(224, 224, 3)
metadata = MetadataCreator.from_torch_sample(
    name="torch_pool",
    sample_data=torch_data,
    history_len=5
)
print(metadata)

# CUDA example (if available)
if torch.cuda.is_available():
    cuda_data = torch.randn(224, 224, 3, device='cuda')
    metadata = MetadataCreator.from_torch_cuda_sample(
        name="cuda_pool",
        sample_data=cuda_data,
        history_len=3
    )
    print(metadata)

# Unified interface
metadata = MetadataCreator.from_sample(
    name="unified_pool",
    data=np_data,
    history_len=5,
    backend="numpy"
)
print(metadata)
