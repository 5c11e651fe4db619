"""NormalBlocks: normals drawn ahead in blocks; generators settled where step-by-step draws leave them."""

from __future__ import annotations

import numpy as np

from rl_suite.streams import BLOCK_NORMALS, NormalBlocks


def _states(gens: list[np.random.Generator]) -> list[dict]:
    return [g.bit_generator.state for g in gens]


def test_take_serves_each_streams_normals_in_order_across_blocks() -> None:
    gens = [np.random.default_rng(s) for s in (3, 4)]
    blocks = NormalBlocks(gens, block=16)
    alone = [np.random.default_rng(s) for s in (3, 4)]
    for n in (5, 5, 5, 1, 7, 40, 0, 3):  # crosses blocks; one take wider than a block (16 * n is drawn)
        got = blocks.take(n)
        assert got.shape == (2, n)
        assert np.array_equal(got, np.stack([g.standard_normal(n) for g in alone]))
    blocks.settle()
    assert _states(gens) == _states(alone)


def test_settle_gives_back_the_normals_not_served_and_setting_served_back_serves_them_again() -> None:
    gens = [np.random.default_rng(7)]
    blocks = NormalBlocks(gens)
    first = blocks.take(10)
    blocks.served -= 4  # hand the last 4 out again
    again = blocks.take(4)
    assert np.array_equal(again, first[:, 6:])
    blocks.settle()
    want = np.random.default_rng(7)
    want.standard_normal(10)
    assert _states(gens) == _states([want])
    assert blocks.served == 0
    assert np.array_equal(blocks.take(1)[0], want.standard_normal(1))  # a fresh block from the settled state


def test_a_fresh_or_fully_served_block_settles_without_drawing() -> None:
    gens = [np.random.default_rng(1)]
    before = _states(gens)
    NormalBlocks(gens).settle()
    assert _states(gens) == before
    blocks = NormalBlocks(gens)
    blocks.take(BLOCK_NORMALS)  # the whole block served: the generator is already where it must be
    want = np.random.default_rng(1)
    want.standard_normal(BLOCK_NORMALS)
    blocks.settle()
    assert _states(gens) == _states([want])
