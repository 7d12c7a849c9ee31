"""Exercises of chapter 7: UCF101's splits, the decode-once cache, clip and video accuracy, leakage.

Every solution runs on synthetic numbers in well under two seconds: nothing here needs UCF101, a
GPU or a trained model, so the exercises work on a laptop while chapter 7's training runs on Colab.
"""

from __future__ import annotations

import torch

from stconv_lite.analysis.video_accuracy import video_scores
from stconv_lite.data.ucf101.decode import uniform_indices
from stconv_lite.exercises.core import Choice, Exercise, Implements, Value

SETUP = """\
import math

import numpy as np
import torch

from stconv_lite.data.ucf101.decode import uniform_indices
from stconv_lite.exercises import check
"""


def _spread_reference(available: int, frames: int) -> list[int]:
    return uniform_indices(available, frames).tolist()


def _spread_inputs(gen: torch.Generator) -> tuple:
    # some cases have fewer frames than requested (short videos repeat frames); edge cases are fixed
    available = int(torch.randint(1, 120, (1,), generator=gen))
    frames = int(torch.randint(1, 40, (1,), generator=gen))
    return available, frames


def _video_reference(logits: torch.Tensor, video_ids: torch.Tensor) -> torch.Tensor:
    scores, _, _ = video_scores(logits, torch.zeros(len(logits), dtype=torch.long), video_ids)
    return scores.argmax(1)


def _video_inputs(gen: torch.Generator) -> tuple:
    # large logits make "average the logits" and "average the probabilities" disagree often
    clips, classes = 40, 5
    logits = 4 * torch.randn(clips, classes, generator=gen)
    video_ids = torch.randint(0, 9, (clips,), generator=gen) * 3  # ids need not be 0..V-1
    return logits, video_ids


EXERCISES = [
    Exercise(
        id="ex-7.1",
        title="The cache of the 3TConv paper's inputs",
        kind="derive",
        difficulty="easy",
        minutes=5,
        statement=(
            "The 3TConv paper's appendix fed 30 frames of $168 \\times 224$ RGB pixels per video. Derive "
            "the size in GB ($10^9$ bytes) of a uint8 cache `(N, T, H, W, 3)` holding **all** 13,320 UCF101 "
            "videos at that size, then confirm it with the `nbytes` of one cached row. Would it fit "
            "on a free Colab disk (about 100 GB, of which the 6.5 GB archive and its unpacked videos "
            "take some 13 GB)?"
        ),
        stub='answer = ...  # the size in GB, a float, to 3 significant digits\ncheck("ex-7.1", answer)\n',
        solution=(
            "videos, frames, height, width = 13320, 30, 168, 224\n"
            "derived = videos * frames * height * width * 3 / 1e9  # one byte per uint8 channel value\n"
            "row = np.zeros((frames, height, width, 3), dtype=np.uint8)\n"
            "assert math.isclose(videos * row.nbytes / 1e9, derived)\n"
            "answer = derived\n"
            'check("ex-7.1", answer)\n'
        ),
        wrong="answer = 13320 * 30 * 168 * 224 / 1e9",
        check=Value(sig=3),
        answer_form="the size in GB, a float",
        hint="bytes = videos x frames x height x width x channels, one byte each.",
        explanation="About 45 GB, over five times the 8 GB of the chapter's 16 x 112 x 112 cache: it fits, using more than half of the disk.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-7.2",
        title="Frames spread over a whole video",
        kind="implement",
        difficulty="easy",
        minutes=10,
        statement=(
            "The cache keeps $T$ frames of a video of $n$ frames at indices "
            "$\\operatorname{round}\\big(\\operatorname{linspace}(0, n-1, T)\\big)$. Implement "
            "`spread_indices(available, frames)` returning those indices as a **list of ints**, for any "
            "$n \\ge 1$ and $T \\ge 1$ (a video shorter than $T$ frames repeats frames), in plain Python "
            "(no `np.linspace`, no `uniform_indices`). Compute the step $(n-1)/(T-1)$ once and multiply it "
            "by $i$, as `np.linspace` does, then use Python's `round` (half to even). Why does the order "
            "matter? Try `11 * 15 / 22` against `11 * (15 / 22)`."
        ),
        stub=(
            "def spread_indices(available, frames):\n"
            "    raise NotImplementedError\n\n\n"
            'check("ex-7.2", spread_indices)\n'
        ),
        solution=(
            "def spread_indices(available, frames):\n"
            "    if frames == 1:\n"
            "        return [0]  # linspace(0, n - 1, 1) is the first frame\n"
            "    step = (available - 1) / (frames - 1)\n"
            "    # round() on Python floats rounds half to even, like np.round; computing i * step with the\n"
            "    # same step as linspace keeps the halves exact where linspace's are\n"
            "    return [round(i * step) for i in range(frames)]\n\n\n"
            "assert spread_indices(29, 32)[:4] == [0, 1, 2, 3] and spread_indices(29, 32)[-1] == 28\n"
            'check("ex-7.2", spread_indices)\n'
        ),
        wrong=(
            "def answer(available, frames):\n"
            "    return [min(i * max(1, available // frames), available - 1) for i in range(frames)]\n"
        ),
        answer="spread_indices",
        check=Implements(
            _spread_reference,
            _spread_inputs,
            trials=8,
            rtol=0,
            atol=0,
            cases=((1, 1), (1, 5), (7, 1), (2, 3), (6, 3), (16, 23), (22, 39), (29, 32)),
        ),
        hint="the last index must be n - 1; for T = 1 linspace gives only the first frame.",
        explanation="The first and last frames are always kept, so a cache row spans the whole video.",
    ),
    Exercise(
        id="ex-7.3",
        title="Where the evaluation windows start",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            'In `mode="multi"`, `UCF101Clips` cuts `clips_per_video` windows of `clip_len` consecutive '
            "cached frames, with start frames spread evenly from the first possible start to the last "
            "(the same rounding rule as the cache). For a cache of 16 frames, `clip_len=8` and 4 clips "
            "per video, predict the 4 start frames, then check with `uniform_indices`. Which cached "
            "frames does no window cover?"
        ),
        stub='answer = ...  # 4 start frames, a tuple of ints\ncheck("ex-7.3", answer)\n',
        solution=(
            "cached, clip_len, clips = 16, 8, 4\n"
            "starts = uniform_indices(cached - clip_len + 1, clips)  # possible starts: 0 .. cached - clip_len\n"
            "covered = set().union(*(range(s, s + clip_len) for s in starts.tolist()))\n"
            "print('frames in no window:', sorted(set(range(cached)) - covered))\n"
            "answer = tuple(starts.tolist())\n"
            'check("ex-7.3", answer)\n'
        ),
        wrong="answer = (0, 2, 4, 6)",
        check=Value(),
        answer_form="a tuple of 4 ints",
        hint="first list the frames a window can start at: a window of clip_len frames must fit in the cache.",
        explanation="The windows overlap and cover every cached frame; the middle frames are seen most often.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-7.4",
        title="Video predictions from clip scores",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Implement `video_predictions(logits, video_ids)`: `logits` `(N, classes)` are the scores of "
            "$N$ clips, `video_ids` `(N,)` says which video each clip came from (any integers, not "
            "necessarily consecutive). Return a `LongTensor` with one predicted class per distinct video "
            "id, in increasing id order: the arg-max of the video's **mean softmax probability** "
            "(the chapter's video accuracy). Use no Python loop over clips (`torch.unique(..., "
            "return_inverse=True)` and `index_add_` help)."
        ),
        stub=(
            "def video_predictions(logits, video_ids):\n"
            "    raise NotImplementedError\n\n\n"
            'check("ex-7.4", video_predictions)\n'
        ),
        solution=(
            "def video_predictions(logits, video_ids):\n"
            "    ids, which = torch.unique(video_ids, return_inverse=True)  # which: clip -> row of its video\n"
            "    probabilities = logits.softmax(dim=1)\n"
            "    sums = torch.zeros(len(ids), logits.shape[1]).index_add_(0, which, probabilities)\n"
            "    # dividing by the clip count would not change the arg-max; the mean is kept for clarity\n"
            "    counts = torch.bincount(which, minlength=len(ids)).clamp(min=1)\n"
            "    return (sums / counts[:, None]).argmax(dim=1)\n\n\n"
            'check("ex-7.4", video_predictions)\n'
        ),
        wrong=(
            "def answer(logits, video_ids):\n"
            "    ids, which = torch.unique(video_ids, return_inverse=True)\n"
            "    return torch.zeros(len(ids), logits.shape[1]).index_add_(0, which, logits).argmax(dim=1)\n"
        ),
        answer="video_predictions",
        check=Implements(_video_reference, _video_inputs, trials=6, rtol=0, atol=0),
        hint="average probabilities, not logits: one very confident clip should not outvote the others by its scale.",
        explanation="Averaging probabilities bounds each clip's vote by 1; averaging logits lets one extreme clip decide.",
    ),
    Exercise(
        id="ex-7.5",
        title="How often a clip split leaks",
        kind="derive",
        difficulty="medium",
        minutes=15,
        statement=(
            "A naive loader sends each video (UCF101 calls them clips) to the test set independently with "
            "probability $q$. A group (one actor, one background) has $g$ videos. Derive the probability "
            "that a **test** video has at least one video of its own group in the training set, in closed "
            "form in $q$ and $g$. "
            "Evaluate it for $g = 5$ and $q = 0.3$, and confirm it by simulating many groups."
        ),
        stub='answer = ...  # a probability, to 3 significant digits\ncheck("ex-7.5", answer)\n',
        solution=(
            "g, q = 5, 0.3\n"
            "# given that a clip is in test, its g - 1 group mates are each in test with probability q\n"
            "closed_form = 1 - q ** (g - 1)\n"
            "generator = torch.Generator().manual_seed(0)\n"
            "in_test = torch.rand(200_000, g, generator=generator) < q  # (groups, clips)\n"
            "mates_in_train = (~in_test).sum(dim=1, keepdim=True) > 0\n"
            "simulated = (in_test & mates_in_train).sum() / in_test.sum()\n"
            "assert abs(simulated.item() - closed_form) < 3e-3\n"
            "answer = closed_form\n"
            'check("ex-7.5", answer)\n'
        ),
        wrong="answer = 1 - 0.3 ** 5",
        check=Value(sig=3),
        answer_form="a probability",
        hint="condition on the video being in the test set: whose placement still matters?",
        explanation="Over 99 %: a clip split leaks almost every test video's actor and background into training.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-7.6",
        title="Do more clips per video always help?",
        kind="experiment",
        difficulty="medium",
        minutes=15,
        statement=(
            "A two-class model gives each clip probability 0.7 to the class it votes for, and votes right "
            "with probability 0.6. **Write down first** what averaging $K = 5$ clips does to video "
            "accuracy (a) when the clips' votes are independent and (b) when all clips of a video vote the "
            "same way (they show the same thing). Then simulate 200,000 videos for each case and answer "
            "with the tuple (video accuracy independent, video accuracy identical), as fractions in "
            "$[0, 1]$. What does this say "
            "about evaluating UCF101 with many overlapping windows?"
        ),
        stub='answer = ...  # (independent, identical), two accuracies\ncheck("ex-7.6", answer)\n',
        solution=(
            "videos, clips, right, confidence = 200_000, 5, 0.6, 0.7\n"
            "generator = torch.Generator().manual_seed(0)\n"
            "\n\n"
            "def video_accuracy_of(votes_right):\n"
            "    # probability of the true class per clip, averaged over the video's clips\n"
            "    p_true = torch.where(votes_right, confidence, 1 - confidence).mean(dim=1)\n"
            "    return (p_true > 0.5).float().mean().item()\n"
            "\n\n"
            "independent = torch.rand(videos, clips, generator=generator) < right\n"
            "identical = (torch.rand(videos, 1, generator=generator) < right).expand(videos, clips)\n"
            "answer = (video_accuracy_of(independent), video_accuracy_of(identical))\n"
            "print(f'independent clips: {answer[0]:.3f}, identical clips: {answer[1]:.3f}')\n"
            'check("ex-7.6", answer)\n'
        ),
        wrong="answer = (0.6, 0.6)",
        check=Value(decimals=2),
        answer_form="a tuple of two accuracies",
        hint="when is the mean of five values, each 0.7 or 0.3, above 0.5?",
        explanation=(
            "Independent votes: the majority of 5 is right more often than one clip (a binomial tail); "
            "identical votes: no gain. Overlapping windows of one video share frames, so their votes are not independent."
        ),
    ),
    Exercise(
        id="ex-7.7",
        title="Why the frame bag passed 50 % under a random split",
        kind="explain",
        difficulty="medium",
        minutes=20,
        statement=(
            "Suppose that in Experiment 2 the order-blind frame bag, capped at 50 % on the direction "
            "classes, scores above 50 % when videos are split at random instead of by group (the stored "
            "small-scale run tests exactly this; the few clips of a quick run may not show it). Which "
            "explanation does the design support? (a) the random split gives it more training videos; "
            "(b) it recognises the "
            "background colour of groups it saw in training; (c) the random split puts easier classes "
            "into the test set; (d) it learns the direction of motion from frame statistics after all. "
            "Check your choice with a lookup table that predicts a test clip's class from its group "
            "colour alone (4 classes, 25 groups each, 5 videos a group), under a video split and under a "
            "group split; then explain in a paragraph what a *group* split removes."
        ),
        stub='answer = ...  # "a", "b", "c" or "d"; then your paragraph in a Markdown cell\ncheck("ex-7.7", answer)\n',
        solution=(
            "generator = torch.Generator().manual_seed(0)\n"
            "classes, groups, clips = 4, 25, 5\n"
            "label = torch.arange(classes).repeat_interleave(groups * clips)\n"
            "group = torch.arange(classes * groups).repeat_interleave(clips)  # one colour per group\n"
            "\n\n"
            "def lookup_accuracy(test):\n"
            "    # a group seen in training -> its class; an unseen group -> a guess (class 0)\n"
            "    seen = {int(g): int(y) for g, y in zip(group[~test], label[~test])}\n"
            "    guesses = torch.tensor([seen.get(int(g), 0) for g in group[test]])\n"
            "    return (guesses == label[test]).float().mean().item()\n"
            "\n\n"
            "clip_split = torch.rand(len(label), generator=generator) < 0.3\n"
            "group_split = (torch.rand(classes * groups, generator=generator) < 0.3)[group]\n"
            "print(f'colour lookup: clip split {lookup_accuracy(clip_split):.2f}, '\n"
            "      f'group split {lookup_accuracy(group_split):.2f} (chance {1 / classes:.2f})')\n"
            "answer = 'b'\n"
            'check("ex-7.7", answer)\n'
        ),
        wrong='answer = "d"',
        check=Choice(
            [
                "more training videos",
                "recognises group colours",
                "easier test classes",
                "learns direction after all",
            ]
        ),
        hint="colours were drawn independently of the class.",
        rubric=(
            "Full marks: (1) b; (2) a colour identifies a group, and under a clip split almost every test "
            "clip's group has clips in training (ex-7.5), so memorising colour -> class works on test "
            "clips while saying nothing about actions; (3) a group split puts each group on one side, so "
            "the lookup falls to chance and only the action itself can be learned; (4) (a) is ruled out by "
            "the design (both splits have the same numbers of training, validation and test videos), (c) "
            "by the same numbers of test videos per class in both splits, and (d) by the in-distribution "
            "50 % ceiling of an order-blind model on a direction and its opposite, which holds under both "
            "splits because their per-class counts are equal. Half marks for (1)+(2)."
        ),
        use=("exam",),
    ),
]
