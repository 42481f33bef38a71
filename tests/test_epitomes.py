import pytest
import torch

from evae_lite import ModelConfig, epitome_masks, n_epitomes


def test_fig5_masks_D8_K2_s2():
    """Fig. 5 (left): D=8, K=2, stride 2 gives the four epitomes {0,1}, {2,3}, {4,5}, {6,7}."""
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0, 0, 0],
            [0, 0, 0, 0, 1, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 1, 1],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(epitome_masks(8, 2, 2), expected)


def test_overlapping_masks_stride1():
    m = epitome_masks(20, 2, 1)
    assert m.shape == (19, 20)
    assert torch.all(m.sum(1) == 2)  # K ones per epitome
    for y in range(19):  # contiguous window starting at y
        assert m[y, y] == 1 and m[y, y + 1] == 1
    assert torch.all(m.sum(0) >= 1)  # every dim covered


@pytest.mark.parametrize("D,K,s,Y", [(8, 2, 2, 4), (20, 2, 1, 19), (48, 4, 4, 12), (50, 50, 50, 1)])
def test_counts(D, K, s, Y):
    assert n_epitomes(D, K, s) == Y
    assert epitome_masks(D, K, s).shape == (Y, D)


@pytest.mark.parametrize(
    "D,K,s,needle",
    [
        (8, 9, 1, "K=9"),
        (8, 3, 3, "stride=3"),  # leaves dims 6, 7 uncovered
        (8, 2, 3, "stride=3"),  # stride > K leaves gaps
        (8, 0, 1, "K=0"),
        (-1, 1, 1, "D=-1"),
    ],
)
def test_bad_epitomes_fail_naming_the_value(D, K, s, needle):
    with pytest.raises(ValueError, match=needle):
        epitome_masks(D, K, s)
    with pytest.raises(ValueError, match=needle):
        ModelConfig("evae", D=D, K=K, stride=s)


def test_uncovered_message_says_which_dims_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"dimensions 6\.\.7 of D=8 uncovered.*stride in \[1\]"):
        n_epitomes(8, 3, 3)
