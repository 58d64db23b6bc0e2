"""The test frame format of tests/client/frame_pattern.h, in numpy.

An n-byte uint8 frame (n a multiple of 8, n >= 16) is n/8 little-endian 64-bit
words: word 0 is the seq, word i (0 < i < last) is seq * K1 + i * K2 (mod 2**64),
the last is the xor of all the others. Every word depends on the seq, so a frame
mixed from two writes fails the check; an all-zero frame is one never written
(or lost). C++ and Python producers and consumers check each other's frames.
"""

import numpy as np

K1 = 0x9E3779B97F4A7C15
K2 = 0xC2B2AE3D27D4EB4F
_MASK = (1 << 64) - 1

_index_k2_cache = {}


def _index_k2(words):
    out = _index_k2_cache.get(words)
    if out is None:
        out = np.arange(1, words - 1, dtype=np.uint64) * np.uint64(K2)  # wraps mod 2**64
        _index_k2_cache[words] = out
    return out


def fill(frame, seq):
    """Writes the pattern for `seq` into the uint8 array `frame` (in place)."""
    words = frame.view("<u8")
    n = words.shape[0]
    words[0] = seq
    np.add(_index_k2(n), np.uint64((seq * K1) & _MASK), out=words[1:n - 1])
    words[n - 1] = np.bitwise_xor.reduce(words[:n - 1])
    return frame


def make(nbytes, seq):
    return fill(np.empty(nbytes, dtype=np.uint8), seq)


INTACT, ZERO, TORN = "intact", "zero", "torn"


def check(frame):
    """(INTACT, seq), (ZERO, 0) or (TORN, seq-word) for a uint8 frame."""
    words = np.ascontiguousarray(frame).view("<u8").reshape(-1)
    n = words.shape[0]
    seq = int(words[0])
    body = words[1:n - 1]
    checksum = int(np.bitwise_xor.reduce(words[:n - 1]))
    if seq != 0:
        expected = _index_k2(n) + np.uint64((seq * K1) & _MASK)
        if np.array_equal(body, expected) and int(words[n - 1]) == checksum:
            return INTACT, seq
    elif not words.any():
        return ZERO, 0
    return TORN, seq
