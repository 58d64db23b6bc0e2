"""What kind of array a value is, without importing torch.

torch takes a second or more to import, so tensor_ipc never imports it: a value
can only be a torch tensor if the caller has imported torch already.
"""

import sys

import numpy as np

BACKENDS = ("numpy", "torch", "torch_cuda")


def torch_module():
    """The torch module if the program has imported it, else None."""
    return sys.modules.get("torch")


def is_torch_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def is_numpy_array(value):
    return isinstance(value, np.ndarray)


def type_name(value):
    """'numpy.ndarray', 'torch.Tensor', 'list', ...: for error messages."""
    if is_numpy_array(value):
        return "numpy.ndarray"
    if is_torch_tensor(value):
        return "torch.Tensor"
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def torch_dtype_name(dtype):
    """torch.float32 -> 'float32' (numpy's names, as pools use)."""
    return str(dtype).rsplit(".", 1)[-1]
