"""Hypothesis strategies shared by the codec fuzz tests."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, samples: Mapping[str, bytes]) -> bytes:
    """A recorded sample with up to 8 bytes overwritten, sometimes cut short."""
    data = bytearray(samples[draw(st.sampled_from(sorted(samples)))])
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)
