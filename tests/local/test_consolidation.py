"""Consolidation of each task type family, on plain data (no AWS): the part of the local
Ground Truth whose correctness an end-to-end run cannot show by its output's shape alone."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gt_provider import task_types
from gt_provider.local.annotations import SIMULATIONS, JobSpec
from gt_provider.local.annotations.base import ImageSize
from gt_provider.local.annotations.boxes import Box, consolidate_boxes, draw, iou
from gt_provider.local.annotations.frames import Frame, FrameObject, consolidate_frames
from gt_provider.local.annotations.segmentation import Shape, paint, rasterize, vote_masks
from gt_provider.local.annotations.text_spans import Span, vote_spans
from gt_provider.local.workforce import Answer, ObjectOutcome, Worker

ACCURACIES = (0.97, 0.9, 0.8, 0.7, 0.5)
WORKERS = [Worker(f"w{i}", f"sub{i}", accuracy) for i, accuracy in enumerate(ACCURACIES)]
SIZE = ImageSize(32, 32)


def _spec(task: str, labels: tuple[str, ...] = ("cat", "dog", "bird")) -> JobSpec:
    return JobSpec("job", task_types.TASK_TYPES[task], labels, tuple({"label": label} for label in labels))


def _outcome(index: int, contents: list, task=None) -> ObjectOutcome:
    return ObjectOutcome(index, tuple(Answer(WORKERS[i], c, 10) for i, c in enumerate(contents)), task=task)


class TestBoxes:
    REFERENCE = (Box(0, 2, 3, 12, 10), Box(1, 16, 16, 14, 12))

    def test_iou_clustering_merges_jittered_boxes_and_drops_a_lone_box(self):
        jittered = [
            [Box(0, 2, 3, 12, 10), Box(1, 17, 16, 14, 12)],
            [Box(0, 3, 4, 12, 10), Box(1, 16, 15, 13, 12), Box(2, 25, 2, 5, 5)],  # + a box nobody else drew
            [Box(0, 1, 3, 13, 10)],  # missed the dog
        ]
        boxes = consolidate_boxes(jittered)

        assert [box.label for box, _ in boxes] == [0, 1]
        for (box, _), expected in zip(boxes, self.REFERENCE, strict=True):
            assert all(abs(a - b) <= 1 for a, b in zip(
                (box.left, box.top, box.width, box.height),
                (expected.left, expected.top, expected.width, expected.height), strict=True,
            ))  # fmt: skip
        cat, dog = (score for _, score in boxes)
        assert cat > dog  # three workers drew the cat, two the dog

    def test_same_place_different_class_is_not_merged(self):
        boxes = consolidate_boxes([[Box(0, 2, 2, 10, 10)], [Box(1, 2, 2, 10, 10)], [Box(0, 2, 2, 10, 10)]])
        assert [box.label for box, _ in boxes] == [0]

    @pytest.mark.parametrize("seed", range(6))
    def test_simulated_workers_consolidate_to_the_reference(self, seed):
        rng = random.Random(seed)
        answers = [draw(self.REFERENCE, worker, SIZE, 3, rng) for worker in WORKERS]
        boxes = consolidate_boxes(answers)

        assert sorted(box.label for box, _ in boxes) == [0, 1]
        for expected in self.REFERENCE:
            assert max(iou(box, expected) for box, _ in boxes if box.label == expected.label) >= 0.75


class TestSegmentation:
    TRUTH = (Shape(0, ((2, 3), (13, 3), (13, 12), (2, 12))), Shape(1, ((16, 16), (30, 18), (20, 30))))

    @pytest.mark.parametrize("seed", range(6))
    def test_per_pixel_vote_beats_the_worst_worker(self, seed):
        truth = rasterize(self.TRUTH, 32, 32)
        rng = random.Random(seed)
        masks = [rasterize(paint(self.TRUTH, worker, SIZE, 3, rng), 32, 32) for worker in WORKERS]
        accuracy = sorted(float((mask == truth).mean()) for mask in masks)
        consolidated, share = vote_masks(masks)
        consolidated_accuracy = float((consolidated == truth).mean())

        assert consolidated_accuracy >= accuracy[0] + 0.05
        assert consolidated_accuracy >= accuracy[len(accuracy) // 2]  # at least the median worker
        assert 0.5 < share <= 1

    def test_agreeing_workers_outweigh_a_tied_pixel_vote(self):
        """Two careful workers and two careless ones split 2-2 on a region: the careful ones win."""
        careful = np.zeros((4, 10), dtype=np.uint8)
        careful[:, 8:] = 2
        careless_a, careless_b = careful.copy(), careful.copy()
        careless_a[:, 8:] = careless_b[:, 8:] = 1
        careless_a[:, 0:4] = 3  # each careless worker also scribbles where the others agree
        careless_b[:, 4:8] = 3

        consolidated, _ = vote_masks([careful, careful.copy(), careless_a, careless_b])

        assert (consolidated[:, 8:] == 2).all()
        assert (consolidated[:, :8] == 0).all()

    def test_mask_png_round_trips_through_the_simulation(self):
        from gt_provider.local.annotations.segmentation import decode_mask, encode_png

        spec = _spec("SemanticSegmentation")
        mask = rasterize(self.TRUTH, 32, 32)
        colors = {
            "0": {"class-name": "BACKGROUND"},
            **{str(i + 1): {"class-name": n} for i, n in enumerate(spec.labels)},
        }
        decoded = decode_mask(encode_png(mask, spec), {"internal-color-map": colors}, spec, "mask")
        assert (decoded == mask).all()


class TestClassification:
    def test_multi_label_keeps_the_labels_most_workers_chose(self):
        spec = _spec("ImageMultiClassMultiLabel")
        simulation = SIMULATIONS["ImageMultiClassMultiLabel"]
        # Workers 0 and 1 agree everywhere; worker 2 adds "bird" to everything.
        outcomes = [_outcome(i, [(0, 1), (0, 1), (0, 1, 2)] if i % 2 else [(0,), (0,), (0, 2)]) for i in range(10)]
        consolidated = simulation.consolidate(outcomes, spec)

        assert consolidated[0].value == [0]
        assert consolidated[1].value == [0, 1]
        assert consolidated[1].metadata["class-map"] == {"0": "cat", "1": "dog"}
        assert set(consolidated[1].metadata["confidence-map"]) == {"0", "1"}

    def test_verification_collects_worker_feedback_only_when_given(self):
        spec = _spec("VerificationBoundingBox", ("correct", "incorrect"))
        simulation = SIMULATIONS["VerificationBoundingBox"]
        outcomes = [
            _outcome(0, [(1, "the dog box is too wide"), (1, None), (0, None)]),
            _outcome(1, [(0, None), (0, None), (0, None)]),
        ]
        consolidated = simulation.consolidate(outcomes, spec)

        assert consolidated[0].value == "1" and consolidated[0].metadata["class-name"] == "incorrect"
        assert consolidated[0].metadata["worker-feedback"] == [{"comment": "the dog box is too wide"}]
        assert "worker-feedback" not in consolidated[1].metadata


class TestTextSpans:
    def test_spans_most_workers_highlighted_survive(self):
        person, place, slipped = Span(0, 5, 0), Span(17, 22, 1), Span(0, 6, 0)
        spans = vote_spans([[person, place], [person, place], [slipped]])

        assert spans == [(person, 0.67), (place, 0.67)]  # slipped: 1 worker of 3

    def test_overlapping_majorities_keep_one_span(self):
        person, slipped = Span(0, 5, 0), Span(0, 6, 0)
        spans = vote_spans([[person], [person], [person, slipped], [slipped], [slipped, Span(9, 12, 1)]])

        assert spans == [(person, 0.6)]  # both 3 of 5; overlapping: the earlier, tighter one wins

    def test_one_worker_keeps_everything_at_zero_confidence(self):
        assert vote_spans([[Span(0, 5, 0)]]) == [(Span(0, 5, 0), 0.0)]


class TestFrames:
    def test_instances_are_averaged_per_frame_and_kept_by_majority(self):
        def frame(*objects: FrameObject) -> Frame:
            return Frame(0, "frame_0000.jpeg", objects)

        car = FrameObject(0, "car:1", (10.0, 10.0, 20.0, 8.0))
        answers = [
            [frame(car, FrameObject(1, "bus:1", (50.0, 5.0, 10.0, 10.0)))],
            [frame(FrameObject(0, "car:1", (12.0, 10.0, 20.0, 10.0)))],
            [frame(FrameObject(0, "car:1", (11.0, 13.0, 20.0, 9.0)))],
        ]
        [(consolidated, scores)] = consolidate_frames(answers, integral=True)

        assert [item.name for item in consolidated.objects] == ["car:1"]  # the bus: 1 worker of 3
        assert consolidated.objects[0].geometry == (11.0, 11.0, 20.0, 9.0)
        assert scores == [1.0]


def test_every_built_in_task_type_has_a_simulation():
    built_in = {name for name, info in task_types.TASK_TYPES.items() if info.lambda_name}
    assert set(SIMULATIONS) == built_in


def test_worker_answers_are_keyed_by_the_element_of_the_shipped_templates():
    from gt_provider import templates

    for task, element in templates.ANSWER_ELEMENTS.items():
        assert SIMULATIONS[task].element == element, task
