"""stconv_lite.train and stconv_lite.checkpoint: learning, exact resume, atomic writes, clear errors."""

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from stconv_lite import checkpoint
from stconv_lite.train import History, evaluate, fit, predict


def make_problem(seed=0, n=96):
    """A linearly separable 3-class toy problem with a seeded, shuffled loader."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, :3].argmax(1)).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return x, y, loader


def make_model(seed=0):
    torch.manual_seed(seed)
    # Dropout makes the run consume random numbers in every step: resume must restore them.
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def test_fit_learns_a_separable_problem():
    _, _, loader = make_problem()
    model = make_model()
    untrained = evaluate(model, loader, device="cpu")["accuracy"]
    history = fit(model, loader, 15, lr=3e-2, device="cpu", progress=False)
    assert isinstance(history, History) and len(history.train_loss) == 15
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert evaluate(model, loader, device="cpu")["accuracy"] > max(0.85, untrained)


def test_resume_continues_exactly(tmp_path):
    _, _, loader = make_problem()
    reference = fit(make_model(), loader, 6, val_loader=loader, lr=1e-2, device="cpu", progress=False, seed=3)

    path = tmp_path / "run.pt"
    _, _, loader = make_problem()
    interrupted = fit(
        make_model(), loader, 3, val_loader=loader, lr=1e-2, device="cpu", progress=False, seed=3, checkpoint_path=path
    )
    assert len(interrupted.train_loss) == 3
    # A new process: fresh model, fresh loader, same construction; resume from the checkpoint.
    _, _, loader = make_problem()
    resumed = fit(
        make_model(seed=99),
        loader,
        6,
        val_loader=loader,
        lr=1e-2,
        device="cpu",
        progress=False,
        seed=3,
        checkpoint_path=path,
        resume=True,
    )
    torch.testing.assert_close(torch.tensor(resumed.train_loss), torch.tensor(reference.train_loss), rtol=0, atol=0)
    torch.testing.assert_close(torch.tensor(resumed.val_acc), torch.tensor(reference.val_acc), rtol=0, atol=0)


def test_resume_without_a_loader_generator_and_with_a_scheduler(tmp_path):
    """Shuffling from the global torch generator (no generator=) and an LR schedule also resume exactly."""

    def run(epochs, path=None, resume=False, model_seed=0):
        x, y, _ = make_problem()
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        model = make_model(model_seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        return fit(
            model,
            loader,
            epochs,
            device="cpu",
            progress=False,
            seed=5,
            optimizer=optimizer,
            scheduler=scheduler,
            checkpoint_path=path,
            resume=resume,
        )

    reference = run(5)
    path = tmp_path / "sched.pt"
    run(2, path)
    torch.manual_seed(1234)  # whatever the new process did before must not matter
    resumed = run(5, path, resume=True, model_seed=7)
    torch.testing.assert_close(torch.tensor(resumed.train_loss), torch.tensor(reference.train_loss), rtol=0, atol=0)
    assert len(torch.load(path, weights_only=False)["history"]["train_loss"]) == 5


def test_resume_needs_the_same_setup(tmp_path):
    _, _, loader = make_problem()
    path = tmp_path / "run.pt"
    fit(make_model(), loader, 1, device="cpu", progress=False, checkpoint_path=path)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.raises(ValueError, match="without a scheduler"):
        fit(
            model,
            loader,
            2,
            device="cpu",
            progress=False,
            checkpoint_path=path,
            resume=True,
            optimizer=optimizer,
            scheduler=scheduler,
        )
    with pytest.raises(ValueError, match="loaders"):
        fit(make_model(), loader, 2, val_loader=loader, device="cpu", progress=False, checkpoint_path=path, resume=True)
    unshuffled = DataLoader(loader.dataset, batch_size=16)
    with pytest.raises(ValueError, match="generator"):
        fit(make_model(), unshuffled, 2, device="cpu", progress=False, checkpoint_path=path, resume=True)
    with pytest.raises(ValueError, match="checkpoint_path"):
        fit(make_model(), loader, 2, device="cpu", progress=False, resume=True)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    _, _, loader = make_problem()
    history = fit(
        make_model(), loader, 2, device="cpu", progress=False, checkpoint_path=tmp_path / "new.pt", resume=True
    )
    assert len(history.train_loss) == 2 and (tmp_path / "new.pt").exists()


def test_fit_is_deterministic_on_cpu():
    runs = []
    for _ in range(2):
        _, _, loader = make_problem()
        runs.append(fit(make_model(), loader, 2, device="cpu", progress=False, seed=11).train_loss)
    assert runs[0] == runs[1]


def test_batches_with_extras_are_accepted():
    x, y, _ = make_problem()
    extras = torch.randn(len(y), 30, 4)  # e.g. Video-MNIST's per-frame ground truth
    loader = DataLoader(TensorDataset(x, y, extras), batch_size=16)
    history = fit(make_model(), loader, 1, val_loader=loader, device="cpu", progress=False)
    assert len(history.val_acc) == 1 and 0.0 <= history.best_val_acc <= 1.0


def test_progress_bars_run(capsys):
    _, _, loader = make_problem()
    fit(make_model(), loader, 1, val_loader=loader, device="cpu", progress=True)
    assert "epochs" in capsys.readouterr().err


def test_a_fresh_run_refuses_to_overwrite_a_checkpoint(tmp_path):
    _, _, loader = make_problem()
    path = tmp_path / "run.pt"
    fit(make_model(), loader, 1, device="cpu", progress=False, checkpoint_path=path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="resume=True"):
        fit(make_model(), loader, 1, device="cpu", progress=False, checkpoint_path=path)
    assert path.read_bytes() == before
    fit(make_model(), loader, 1, device="cpu", progress=False, checkpoint_path=path, overwrite=True)


def test_resume_into_a_different_model_is_refused(tmp_path):
    _, _, loader = make_problem()
    path = tmp_path / "run.pt"
    fit(make_model(), loader, 1, device="cpu", progress=False, checkpoint_path=path)
    other = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"different model.*0\.weight: \(16, 6\) vs \(8, 6\)"):
        fit(other, loader, 2, device="cpu", progress=False, checkpoint_path=path, resume=True)


def test_a_crash_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpoint.save_atomic({"epoch": 1}, path)

    def crash_half_way(obj, file, *args, **kwargs):
        file.write(b"partial bytes")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(torch, "save", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic({"epoch": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_a_crash_while_fit_saves_leaves_a_resumable_checkpoint(tmp_path, monkeypatch):
    """A disconnect while writing epoch 2's checkpoint: epoch 1's survives and resumes exactly."""
    reference = fit(make_model(), make_problem()[2], 3, lr=1e-2, device="cpu", progress=False, seed=2)
    path = tmp_path / "run.pt"
    real_save = torch.save
    calls = []

    def save_then_crash(obj, file, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            file.write(b"half a checkpoint")
            raise KeyboardInterrupt("runtime disconnected")
        return real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), make_problem()[2], 3, lr=1e-2, device="cpu", progress=False, seed=2, checkpoint_path=path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]
    resumed = fit(
        make_model(),
        make_problem()[2],
        3,
        lr=1e-2,
        device="cpu",
        progress=False,
        seed=2,
        checkpoint_path=path,
        resume=True,
    )
    torch.testing.assert_close(torch.tensor(resumed.train_loss), torch.tensor(reference.train_loss), rtol=0, atol=0)


def test_non_finite_loss_stops_with_a_clear_message():
    _, _, loader = make_problem()
    model = make_model()
    with torch.no_grad():
        model[0].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1"):
        fit(model, loader, 1, device="cpu", progress=False)

    def explodes_later(m):
        explodes_later.calls += 1
        return torch.tensor(float("inf") if explodes_later.calls == 4 else 0.0)

    explodes_later.calls = 0
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 4"):
        fit(make_model(), loader, 1, device="cpu", progress=False, regulariser=explodes_later)


def test_regulariser_is_added_to_the_loss():
    _, _, loader = make_problem()
    model = make_model()
    calls = []

    def regulariser(m):
        calls.append(1)
        return sum(p.pow(2).sum() for p in m.parameters()) * 0.0

    plain = fit(make_model(), make_problem()[2], 1, device="cpu", progress=False)
    with_zero = fit(model, make_problem()[2], 1, device="cpu", progress=False, regulariser=regulariser)
    assert len(calls) == len(loader)
    assert with_zero.train_loss == plain.train_loss

    # A strong weight penalty must shrink the weights: proof that it reaches the gradients.
    def penalty(m):
        return 10.0 * sum(p.pow(2).sum() for p in m.parameters())

    shrunk, free = make_model(), make_model()
    fit(shrunk, make_problem()[2], 2, lr=3e-2, device="cpu", progress=False, regulariser=penalty)
    fit(free, make_problem()[2], 2, lr=3e-2, device="cpu", progress=False)
    norm = lambda m: sum(p.pow(2).sum() for p in m.parameters()).item()  # noqa: E731
    assert norm(shrunk) < 0.5 * norm(free)


def test_evaluate_on_a_hand_checked_case():
    class Fixed(nn.Module):
        def forward(self, x):
            return x  # the inputs are the logits

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1, 1, 1])
    loader = DataLoader(TensorDataset(logits, labels), batch_size=3)
    result = evaluate(Fixed(), loader, device="cpu")
    assert result["accuracy"] == pytest.approx(0.75)
    expected = torch.nn.functional.cross_entropy(logits, labels).item()
    assert result["loss"] == pytest.approx(expected)
    out, ys = predict(Fixed(), loader, device="cpu")
    torch.testing.assert_close(out, logits)
    assert torch.equal(ys, labels)


def test_bad_arguments():
    _, _, loader = make_problem()
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(make_model(), loader, 0, device="cpu")
    with pytest.raises(ValueError, match="amp=True needs a CUDA device"):
        fit(make_model(), loader, 1, device="cpu", amp=True)
    bad = DataLoader(TensorDataset(torch.randn(4, 6)), batch_size=2)
    with pytest.raises(ValueError, match=r"\(inputs, labels, ...\)"):
        fit(make_model(), bad, 1, device="cpu", progress=False)
    empty = DataLoader(TensorDataset(torch.empty(0, 6), torch.empty(0).long()))
    with pytest.raises(ValueError, match="no batches"):
        evaluate(make_model(), empty, device="cpu")


def test_step_budget_stops_mid_epoch_and_says_why():
    _, _, loader = make_problem()  # 96 samples, batch 16: 6 steps per epoch
    history = fit(make_model(), loader, 10, lr=1e-2, device="cpu", progress=False, max_steps=9)
    assert history.steps == [6, 9] and history.total_steps == 9
    assert "step budget of 9" in history.stop_reason


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    _, _, loader = make_problem()
    model = make_model()
    seen = []

    def record(end):
        seen.append((end.epoch, {k: v.clone() for k, v in end.model.state_dict().items()}))

    # Validation accuracy on this easy problem saturates within a few epochs, so a run of 30 stops
    # exactly 2 epochs after its last strict improvement, and the model holds that epoch's weights.
    history = fit(
        model,
        loader,
        30,
        val_loader=loader,
        lr=1e-2,
        device="cpu",
        progress=False,
        patience=2,
        restore_best=True,
        callbacks=[record],
    )
    best_epoch = 1 + max(range(len(history.val_acc)), key=lambda i: (history.val_acc[i], -i))
    assert len(history.val_acc) < 30 and len(history.val_acc) - best_epoch == 2
    assert history.stop_reason == "no validation gain for 2 epochs"
    best_state = dict(seen)[best_epoch]
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, best_state[name], rtol=0, atol=0)


def test_a_callback_can_stop_training():
    _, _, loader = make_problem()
    history = fit(make_model(), loader, 10, device="cpu", progress=False, callbacks=[lambda end: end.epoch == 3])
    assert len(history.train_loss) == 3 and history.stop_reason == "stopped by a callback"


def test_budget_arguments_are_checked():
    _, _, loader = make_problem()
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        fit(make_model(), loader, 1, device="cpu", progress=False, max_steps=0)
    with pytest.raises(ValueError, match="pass a val_loader"):
        fit(make_model(), loader, 1, device="cpu", progress=False, patience=3)


def test_resume_keeps_early_stopping_state(tmp_path):
    """An interrupted run with patience resumes to the same stop and the same best weights."""
    _, _, loader = make_problem()
    reference_model = make_model()
    reference = fit(
        reference_model,
        loader,
        12,
        val_loader=loader,
        lr=3e-2,
        device="cpu",
        progress=False,
        seed=2,
        patience=2,
        restore_best=True,
    )
    path = tmp_path / "es.pt"
    _, _, loader = make_problem()
    fit(
        make_model(),
        loader,
        2,
        val_loader=loader,
        lr=3e-2,
        device="cpu",
        progress=False,
        seed=2,
        patience=2,
        restore_best=True,
        checkpoint_path=path,
    )
    _, _, loader = make_problem()
    resumed_model = make_model(seed=5)
    resumed = fit(
        resumed_model,
        loader,
        12,
        val_loader=loader,
        lr=3e-2,
        device="cpu",
        progress=False,
        seed=2,
        patience=2,
        restore_best=True,
        checkpoint_path=path,
        resume=True,
    )
    assert resumed.val_acc == reference.val_acc and resumed.stop_reason == reference.stop_reason
    for name, tensor in reference_model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[name], tensor, rtol=0, atol=0)
