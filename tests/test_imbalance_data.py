"""Class weights from the training masks (rules, cache, invalidation), the class-balanced
sampler (its draws follow its weights; ranks share them out) and the rare-class crop."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chisquare

from ignite_zoo.registry.errors import RecipeError
from ignite_zoo.zoo.data import build_transforms
from ignite_zoo.zoo.data.class_stats import STATS_FILE, ClassStats, weights_from_histograms
from ignite_zoo.zoo.data.samplers import ClassBalancedSampler, build_sampler, image_weights
from ignite_zoo.zoo.loss_weights import resolve_class_weights

HIST = np.array([[90, 10, 0], [100, 0, 0], [50, 0, 50]])  # class shares 0.8, 0.0333, 0.1667


def test_rules_by_their_formulas():
    p = np.array([240, 10, 50]) / 300
    expected = {"inverse_frequency": 1 / p, "sqrt_inverse_frequency": 1 / np.sqrt(p),
                "enet": 1 / np.log(1.02 + p)}
    for rule, w in expected.items():
        np.testing.assert_allclose(weights_from_histograms(HIST, rule), w / w.mean(), err_msg=rule)
    # median frequency: class pixels over the pixels of the images holding the class
    f = np.array([240 / 300, 10 / 100, 50 / 100])
    np.testing.assert_allclose(weights_from_histograms(HIST, "median_frequency"),
                               (np.median(f) / f) / (np.median(f) / f).mean())
    skipped = weights_from_histograms(HIST, "inverse_frequency", skip=[1])
    q = np.array([240, 50]) / 290
    assert skipped[1] == 0 and np.allclose(skipped[[0, 2]], (1 / q) / (1 / q).mean())


class MaskSet:
    """A dataset's mask side: files on disk and read_mask."""

    def __init__(self, folder, masks):
        folder.mkdir(parents=True, exist_ok=True)
        self.split, self.ignore_index, self.num_classes = "train", 255, 3
        self.classes = ["a", "b", "c"]
        self.masks, self.mask_paths, self.reads = masks, [], 0
        for i, m in enumerate(masks):
            path = folder / f"{i}.npy"
            np.save(path, m)
            self.mask_paths.append(path)

    def read_mask(self, i):
        self.reads += 1
        return np.load(self.mask_paths[i])


def _masks():
    rng = np.random.default_rng(0)
    masks = [rng.choice([0, 1, 2, 255], size=(8, 8), p=[0.6, 0.1, 0.2, 0.1]) for _ in range(5)]
    return masks


def test_auto_weights_are_counted_once_cached_and_invalidated(tmp_path, capsys):
    ds = MaskSet(tmp_path / "data" / "train", _masks())
    loss = {"type": "sum", "ignore_index": 2, "terms": [{"type": "cross_entropy", "class_weights": "auto"},
                                                      {"type": "focal", "alpha": {"rule": "enet"}}]}
    out = resolve_class_weights(loss, ds, 3, ds.classes)
    counts = np.sum([np.bincount(m[m < 3].ravel(), minlength=3) for m in ds.masks], 0)
    hist = np.array([np.bincount(m[m < 3].ravel(), minlength=3) for m in ds.masks])
    assert out["terms"][0]["class_weights"] == pytest.approx(list(weights_from_histograms(hist, "median_frequency",
                                                                                          skip=[2])))
    assert out["terms"][1]["alpha"] == pytest.approx(list(weights_from_histograms(hist, "enet", skip=[2])))
    assert out["terms"][0]["class_weights"][2] == 0 and loss["terms"][0]["class_weights"] == "auto"
    assert counts.sum() == hist.sum() and ds.reads == 5
    printed = capsys.readouterr().out
    assert "loss.terms[0].class_weights: median_frequency" in printed and "a " in printed and "counted" in printed
    cache = tmp_path / "data" / STATS_FILE
    assert cache.is_file() and len(json.loads(cache.read_text())) == 1
    again = resolve_class_weights(loss, ds, 3, ds.classes)
    assert again == out and ds.reads == 5 and "cached" in capsys.readouterr().out  # read from the cache
    np.save(ds.mask_paths[0], np.zeros((8, 9), dtype=np.int64))  # a changed mask: counted again
    ds.masks[0] = np.zeros((8, 9), dtype=np.int64)
    assert ClassStats(ds, 3).hist[0].tolist() == [72, 0, 0] and ds.reads == 10
    with pytest.raises(RecipeError, match="loss.class_weights.rule: 'ent' is not a class-weight rule.*enet"):
        resolve_class_weights({"type": "cross_entropy", "class_weights": {"rule": "ent"}}, ds, 3)


def test_sampler_draws_follow_its_weights():
    weights = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    sampler = ClassBalancedSampler(weights, num_samples=20000, seed=7)
    draws = np.bincount(list(iter(sampler)), minlength=5)
    assert draws[3] == 0  # weight 0: never drawn
    keep = weights > 0
    expected = weights[keep] / weights.sum() * draws.sum()
    assert chisquare(draws[keep], expected).pvalue > 0.01
    # the draws would be rejected for other probabilities (the test has power)
    assert chisquare(draws[keep], np.full(4, draws.sum() / 4)).pvalue < 1e-6
    assert list(iter(sampler)) != list(iter(ClassBalancedSampler(weights, num_samples=20000, seed=7)))  # next epoch


def test_ranks_share_out_one_draw():
    weights = np.array([1.0, 5.0, 2.0])
    one = ClassBalancedSampler(weights, num_samples=10, seed=3)
    ranks = [ClassBalancedSampler(weights, num_samples=10, seed=3, rank=r, world=2) for r in range(2)]
    for epoch in (0, 4):
        for s in [one, *ranks]:
            s.set_epoch(epoch)
        shares = [list(iter(r)) for r in ranks]
        assert [len(s) for s in shares] == [5, 5] and len(ranks[0]) == 5
        merged = [i for pair in zip(*shares) for i in pair]
        assert merged == one.draws(epoch)[:10] == list(iter(one))


def test_sampler_from_recipe_prefers_rare_images(tmp_path):
    masks = [np.zeros((8, 8), dtype=np.int64) for _ in range(3)]
    masks[2][:2] = 1  # the only image with class 1
    ds = MaskSet(tmp_path / "d" / "train", masks)
    sampler = build_sampler({"type": "class_balanced", "rule": "inverse_frequency", "num_samples": 3000}, ds, 3)
    counts = np.bincount(list(iter(sampler)), minlength=3)
    hist = ClassStats(ds, 3).hist
    w = image_weights(hist, weights_from_histograms(hist, "inverse_frequency"))
    assert counts[2] > counts[0] + counts[1] and w[2] > w[0] == w[1]
    with pytest.raises(RecipeError, match="data.sampler.rulle: unknown key"):
        build_sampler({"type": "class_balanced", "rulle": "enet"}, ds, 3)
    with pytest.raises(RecipeError, match="data.sampler.type: 'balanced'"):
        build_sampler({"type": "balanced"}, ds, 3)


def test_rare_class_crop_centres_on_the_chosen_class():
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[50, 10] = 3  # one rare pixel
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    always = build_transforms([{"type": "RareClassCrop", "size": 16, "classes": [3], "p": 1.0}], "segmentation",
                              mask_fill=255)
    never = build_transforms([{"type": "RareClassCrop", "size": 16, "classes": [3], "p": 0.0}], "segmentation")
    hits = [int((always(image, mask)[1] == 3).sum()) for _ in range(20)]
    assert all(h == 1 for h in hits)
    misses = [int((never(image, mask)[1] == 3).sum()) for _ in range(40)]
    assert sum(misses) < 20
    x, m = always(image[:10, :12], mask[:10, :12])  # smaller than the crop: padded with the ignore value
    assert tuple(x.shape[-2:]) == (16, 16) and int((m == 255).sum()) == 16 * 16 - 10 * 12
