"""catgan.train.batches.RealBatches: batch i is a pure function of (seed, i), shards are disjoint."""
import pytest
import torch

from catgan.train.batches import RealBatches


def numbered(n: int) -> torch.Tensor:
    """n 2x2 uint8 'images' whose pixels hold their own index."""
    return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()


def ids(x: torch.Tensor) -> list[int]:
    return ((x[:, 0, 0, 0] + 1) * 127.5).round().long().tolist()


def test_an_epoch_visits_each_image_once_and_batches_are_reproducible():
    b = RealBatches(numbered(100), 8, seed=3, flip=False)
    assert b.per_epoch == 12  # full batches only: 4 images left out this epoch
    seen = [i for k in range(b.per_epoch) for i in ids(b.get(k))]
    assert len(seen) == len(set(seen)) == 96
    again = RealBatches(numbered(100), 8, seed=3, flip=False)
    assert ids(again.get(5)) == ids(b.get(5)) and ids(again.get(17)) == ids(b.get(17))  # no state but (seed, i)
    assert ids(b.get(12)) != ids(b.get(0))  # the next epoch is a new permutation
    assert ids(RealBatches(numbered(100), 8, seed=4, flip=False).get(0)) != ids(b.get(0))


def test_ranks_get_disjoint_equal_shards():
    shards = [set(RealBatches(numbered(100), 8, seed=0, rank=r, world_size=3).shard(0).tolist()) for r in range(3)]
    assert all(len(s) == 32 for s in shards)
    assert not (shards[0] & shards[1] or shards[0] & shards[2] or shards[1] & shards[2])


def test_values_are_in_range_and_flips_mirror():
    x = torch.zeros(16, 3, 2, 2, dtype=torch.uint8)
    x[..., 1] = 255  # right column white
    torch.manual_seed(0)
    out = RealBatches(x, 16, seed=0, flip=True).get(0)
    assert out.dtype == torch.float32 and out.min() == -1 and out.max() == 1
    flipped = out[:, 0, 0, 0] == 1
    assert 0 < int(flipped.sum()) < 16  # some, not all, mirrored


def test_a_batch_larger_than_the_data_is_refused():
    with pytest.raises(ValueError, match="larger than the dataset"):
        RealBatches(numbered(10), 8, seed=0, world_size=2)
