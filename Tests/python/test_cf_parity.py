"""Our SASRec against the official PyTorch definition: the same weights give the same scores on real
Beauty histories, and the checkpoint converter round-trips an official-format state_dict."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cf_support import item_count, pipeline_stages, split_arrays, tca, write_pipeline
from conftest import SHARED, need_shared

torch = pytest.importorskip("torch")

import convert_sasrec  # noqa: E402
import safetensors_io  # noqa: E402
from sasrec_reference import SASRec, left_padded  # noqa: E402

BEAUTY = "amazon-beauty-processed/p5-Wenyueh-LLM-RecSys-ID/sequential_data.txt"


def random_official_model(items: int, hidden: int, blocks: int, heads: int, maxlen: int, seed: int,
                          embedding_noise: float = 0.05) -> SASRec:
    """The official module (official init) with every parameter perturbed (LayerNorm gains and biases, zero
    biases too), so each one matters; `embedding_noise` sets how large the scores get."""
    torch.manual_seed(seed)
    model = SASRec(items, hidden=hidden, blocks=blocks, heads=heads, maxlen=maxlen, dropout=0.5)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            scale = embedding_noise if "emb" in name else 0.2
            parameter.add_(torch.randn_like(parameter) * scale)
    return model.eval()


@pytest.fixture(scope="module")
def beauty_samples(tmp_path_factory):
    need_shared(BEAUTY)
    home = tmp_path_factory.mktemp("cf-parity")
    stages = pipeline_stages("beauty")
    path = write_pipeline(home, "beauty-prepare", {"ingest": stages["ingest"], "prepare": stages["prepare"]})
    tca("run", "-q", str(path), home=home, data=SHARED)
    return home, stages, home / "runs" / "beauty-prepare" / "prepare"


@pytest.mark.parametrize("blocks,heads,maxlen,noise", [(2, 1, 10, 0.05), (3, 2, 20, 0.05), (2, 1, 10, 0.3)])
def test_scores_equal_the_official_module_on_real_histories(beauty_samples, blocks, heads, maxlen, noise):
    home, stages, samples = beauty_samples
    items = item_count(samples)
    model = random_official_model(items, hidden=64, blocks=blocks, heads=heads, maxlen=maxlen, seed=blocks,
                                  embedding_noise=noise)
    tag = f"{blocks}-{heads}-{noise}"
    checkpoint = home / f"official-{tag}.pth"
    torch.save(model.state_dict(), checkpoint)
    converted = home / f"official-{tag}.safetensors"
    assert convert_sasrec.main([str(checkpoint), str(converted)]) == 0

    name = f"beauty-external-{tag}".replace(".", "")
    cf = {"uses": "cf", "params": {"model": "external", "checkpoint": str(converted), "hidden": 64,
                                   "blocks": blocks, "heads": heads, "max_length": maxlen}}
    path = write_pipeline(home, name, {"ingest": stages["ingest"], "prepare": stages["prepare"], "cf": cf})
    tca("run", "-q", str(path), home=home, data=SHARED)
    output = home / f"scores-{tag}"
    tca("score", "-q", "--cf", str(home / "runs" / name / "cf"), "--samples", str(samples), "--split", "test",
        "--limit", "3000", "--output", str(output), home=home)
    ours = np.load(output / "scores.npy")

    _, targets, histories = split_arrays(samples, "test")
    with torch.no_grad():
        reference = model(left_padded([list(h) for h in histories[:3000]], maxlen))[:, 1:].numpy()
    assert ours.shape == reference.shape == (3000, items)
    difference = np.abs(ours - reference)
    largest = float(np.abs(reference).max())
    # Within 1e-4 absolute; with large weights (scores above 5) within float32 round-off of the largest score.
    tolerance = 1e-4 if largest < 5 else 2e-5 * largest
    assert difference.max() < tolerance, f"max |ours - official| = {difference.max():.3g} (scores up to {largest:.3g})"
    # The ranks follow: the same top-10 on nearly every sample (exact ties aside).
    same_top = np.mean([set(np.argsort(-ours[i])[:10]) == set(np.argsort(-reference[i])[:10]) for i in range(200)])
    assert same_top > 0.99

    card = json.loads((home / "runs" / name / "cf" / "model.json").read_text())
    assert card["architecture"] == "external-sasrec"
    assert card["hyperparameters"] == {"hidden": 64, "blocks": blocks, "heads": heads, "max_length": maxlen}


def test_converter_round_trips_an_official_state_dict(tmp_path):
    model = random_official_model(50, hidden=16, blocks=2, heads=1, maxlen=10, seed=3)
    state = model.state_dict()
    torch.save(state, tmp_path / "best_model.pth")
    assert convert_sasrec.main([str(tmp_path / "best_model.pth"), str(tmp_path / "model.safetensors")]) == 0
    tensors, metadata = safetensors_io.load(str(tmp_path / "model.safetensors"))
    assert sorted(tensors) == sorted(state) == sorted(convert_sasrec.expected_names(2))
    for name, value in state.items():
        assert np.array_equal(tensors[name], value.numpy()), name
    assert convert_sasrec.main(["--to-pt", str(tmp_path / "model.safetensors"), str(tmp_path / "back.pth")]) == 0
    back = torch.load(tmp_path / "back.pth", weights_only=True)
    assert sorted(back) == sorted(state)
    for name, value in state.items():
        assert torch.equal(back[name], value), name
    # The file loads into the official module unchanged.
    fresh = SASRec(50, hidden=16, blocks=2, heads=1, maxlen=10)
    fresh.load_state_dict(back)


def test_converter_refuses_a_state_dict_without_the_official_names(tmp_path):
    state = random_official_model(20, hidden=8, blocks=1, heads=1, maxlen=5, seed=1).state_dict()
    del state["attention_layers.0.in_proj_bias"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ValueError, match="attention_layers.0.in_proj_bias"):
        convert_sasrec.main([str(tmp_path / "broken.pth"), str(tmp_path / "out.safetensors")])
