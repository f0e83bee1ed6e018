"""catgan.train.checkpoint: atomic saves, weights_only loads and the resume guard."""
import pytest
import torch

from catgan.train.checkpoint import load_checkpoint, refuse_changed_settings, save_checkpoint


def test_round_trip_in_place_and_no_temp_files(tmp_path):
    save_checkpoint({"step": 3, "w": torch.ones(2)}, tmp_path / "checkpoint.pt")
    save_checkpoint({"step": 4, "w": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    state = load_checkpoint(tmp_path)  # a run folder or the file itself
    assert state["step"] == 4 and torch.equal(state["w"], torch.zeros(2))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_pickled_code_is_never_run(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="is not a readable checkpoint .*Weights only load failed"):
        load_checkpoint(tmp_path)


def test_resume_guard_names_every_changed_setting():
    saved = {"loss": "bce", "lr_g": 2e-4, "steps": 100, "real_label": 1.0}
    refuse_changed_settings(saved, {"loss": "bce", "lr_g": 2e-4, "steps": 500}, resumable={"steps"})
    with pytest.raises(ValueError) as err:
        refuse_changed_settings(saved, {"loss": "hinge", "lr_g": 1e-4, "steps": 500}, resumable={"steps"})
    assert "--loss (checkpoint: 'bce', now: 'hinge')" in str(err.value) and "--lr-g" in str(err.value)
    assert "--steps" not in str(err.value)
    # a setting newer than the checkpoint compares with its default, or is skipped without one
    refuse_changed_settings(saved, {"g_steps": 1}, resumable=set(), defaults={"g_steps": 1})
    refuse_changed_settings(saved, {"g_steps": 2}, resumable=set())
    with pytest.raises(ValueError, match="--g-steps"):
        refuse_changed_settings(saved, {"g_steps": 2}, resumable=set(), defaults={"g_steps": 1})
