"""Clip vs video accuracy, per-class accuracy, confusion matrices."""

from __future__ import annotations

import pytest
import torch

from stconv_lite.analysis.video_accuracy import (
    clip_accuracy,
    confusion_matrix,
    evaluate_videos,
    per_class_accuracy,
    top_confusions,
    video_accuracy,
    video_scores,
)


def test_video_accuracy_averages_probabilities_of_each_video():
    # video 7 (label 0): clips say 0, 0, 1 -> right; video 3 (label 1): one very sure wrong clip, two mild right
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 1.0], [9.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    ids = torch.tensor([7, 7, 7, 3, 3, 3])
    assert clip_accuracy(logits, labels) == pytest.approx(4 / 6)
    scores, video_labels, video_ids = video_scores(logits, labels, ids)
    assert video_ids.tolist() == [3, 7] and video_labels.tolist() == [1, 0]
    torch.testing.assert_close(scores[1], logits[:3].softmax(1).mean(0))
    assert video_accuracy(logits, labels, ids) == pytest.approx(0.5)  # probabilities, so the sure clip wins video 3


def test_misaligned_video_ids_are_caught():
    with pytest.raises(ValueError, match="different labels"):
        video_scores(torch.zeros(2, 3), torch.tensor([0, 1]), [5, 5])
    with pytest.raises(ValueError, match="one id per clip"):
        video_scores(torch.zeros(2, 3), torch.tensor([0, 1]), [5])
    with pytest.raises(ValueError, match=r"logits \(N, classes\)"):
        clip_accuracy(torch.zeros(2), torch.tensor([0, 1]))


def test_confusion_matrix_and_per_class_accuracy():
    predictions = torch.tensor([0, 1, 1, 2, 2, 2])
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    matrix = confusion_matrix(predictions, labels, 4)
    expected = torch.zeros(4, 4, dtype=torch.long)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[1, 2], expected[2, 2] = 1, 1, 1, 1, 2
    assert torch.equal(matrix, expected)
    recall = per_class_accuracy(matrix)
    torch.testing.assert_close(recall[:3], torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64))
    assert torch.isnan(recall[3])  # no examples of class 3
    assert sorted(top_confusions(matrix, ["a", "b", "c", "d"], k=5)) == [("a", "b", 1), ("b", "c", 1)]
    with pytest.raises(ValueError, match="0..3"):
        confusion_matrix(torch.tensor([4]), torch.tensor([0]), 4)


def test_evaluate_videos_with_a_model():
    torch.manual_seed(0)
    x = torch.randn(6, 3)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    model = torch.nn.Linear(3, 3)
    result = evaluate_videos(model, loader, [0, 0, 1, 1, 2, 2], num_classes=3, device="cpu")
    logits = model(x).detach()
    assert result["clip_accuracy"] == pytest.approx(clip_accuracy(logits, y))
    assert result["video_accuracy"] == pytest.approx(video_accuracy(logits, y, [0, 0, 1, 1, 2, 2]))
    assert result["confusion"].sum() == 3 and (result["clips"], result["videos"]) == (6, 3)
