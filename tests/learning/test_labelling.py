import numpy as np
import pytest

from interseg.learning.labelling import FrameDifferenceLabeller, LabellerConfig, ViewCapture, something_moved
from interseg.learning.synthetic import FlatObject, default_cameras, random_objects, render, table_texture

W, H = 320, 240  # half resolution keeps the tests fast; thresholds scale with the image
SHADOW = (0.02, 0.015)


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(3)
    objects = random_objects(rng, 5)
    return {"rng": rng, "objects": objects, "texture": table_texture(1), "cameras": default_cameras(W, H)}


def capture(scene, before_objects, after_objects, *, gain_after=0.85, noise=3.0, shadow_after=SHADOW):
    views, masks_before, masks_after = [], [], []
    for cam in scene["cameras"]:
        b, mb = render(cam, before_objects, scene["texture"], shadow_offset=SHADOW, noise_sigma=noise, rng=scene["rng"])
        a, ma = render(
            cam,
            after_objects,
            scene["texture"],
            shadow_offset=shadow_after,
            gain=gain_after,
            noise_sigma=noise,
            rng=scene["rng"],
        )
        views.append(ViewCapture(cam, b, a))
        masks_before.append(mb)
        masks_after.append(ma)
    return views, masks_before, masks_after


def test_pick_and_place_give_positives_matching_the_true_masks(scene):
    objects = scene["objects"]
    target = objects[0]
    placed = target.moved_to(0.3, 0.3)
    views, before_masks, after_masks = capture(scene, objects, objects[1:] + [placed])
    labels = FrameDifferenceLabeller().label_interaction(
        views, np.array([target.x, target.y, 0.0]), np.array([0.3, 0.3, 0.0])
    )
    assert [v.view for v in labels] == ["cam0", "cam1", "cam2", "cam3"]
    for view, truth_before, truth_after in zip(labels, before_masks, after_masks):
        picks = [e for e in view.examples if e.kind == "pick"]
        places = [e for e in view.examples if e.kind == "place"]
        assert len(picks) == 1 and picks[0].positive, view
        assert iou(picks[0].mask, truth_before[0]) > 0.75, picks[0].reason
        assert picks[0].reason.startswith("positive") and "px" in picks[0].reason
        assert len(places) == 1 and places[0].positive
        assert iou(places[0].mask, truth_after[-1]) > 0.75, places[0].reason
        assert places[0].image is views[labels.index(view)].after


def test_nothing_moved_gives_negatives_despite_lighting_noise_and_new_shadow(scene):
    objects = scene["objects"]
    target = objects[1]
    # a lighting change and a shadow that moved (light source moved): nothing was displaced
    views, _, _ = capture(scene, objects, objects, gain_after=1.2, shadow_after=(0.025, 0.01))
    labels = FrameDifferenceLabeller().label_interaction(views, np.array([target.x, target.y, 0.0]))
    for view in labels:
        assert len(view.examples) == 1
        example = view.examples[0]
        assert not example.positive and example.mask is None, example.reason
        assert example.reason.startswith("negative")
    assert not something_moved(views[0].before, views[0].after)


def test_small_change_is_below_the_minimum_area(scene):
    objects = scene["objects"]
    tiny = FlatObject(-0.25, -0.2, 0.012, 0.01, 0.0, (200, 20, 20))
    views, _, _ = capture(scene, objects + [tiny], objects, gain_after=1.0)
    labels = FrameDifferenceLabeller().label_view(views[0], np.array([tiny.x, tiny.y, 0.0]))
    example = labels.examples[0]
    assert not example.positive and "below" in example.reason and "minimum" in example.reason


def test_views_that_cannot_see_the_point_are_skipped_with_a_reason(scene):
    objects = scene["objects"]
    views, _, _ = capture(scene, objects, objects)
    labels = FrameDifferenceLabeller().label_view(views[0], np.array([5.0, 5.0, 0.0]))
    assert labels.examples == [] and "outside the image" in labels.notes[0]


def test_lifted_image_with_robot_mask(scene):
    objects = scene["objects"]
    target = objects[2]
    cam = scene["cameras"][0]
    before, truth = render(cam, objects, scene["texture"], shadow_offset=SHADOW, noise_sigma=2, rng=scene["rng"])
    gripper = FlatObject(target.x + 0.17, target.y, 0.1, 0.015, 0.0, (40, 40, 40), "box")  # the arm
    rest = [o for o in objects if o is not target]
    lifted, lifted_masks = render(
        cam, rest + [gripper], scene["texture"], shadow_offset=SHADOW, noise_sigma=2, rng=scene["rng"]
    )
    robot = lifted_masks[-1]
    after, _ = render(cam, rest, scene["texture"], shadow_offset=SHADOW, noise_sigma=2, rng=scene["rng"])
    view = ViewCapture(cam, before, after, lifted=lifted, robot_mask=robot)
    labels = FrameDifferenceLabeller().label_view(view, np.array([target.x, target.y, 0.0]))
    pick = labels.examples[0]
    assert pick.positive and "before vs lifted" in pick.reason, pick.reason
    assert iou(pick.mask, truth[2]) > 0.75
    assert not (pick.mask & robot & ~truth[2]).any()


def test_something_moved(scene):
    objects = scene["objects"]
    views, _, _ = capture(scene, objects, objects[1:])
    assert something_moved(views[0].before, views[0].after)


def test_bad_inputs_are_rejected(scene):
    objects = scene["objects"]
    views, _, _ = capture(scene, objects, objects[1:])
    view = views[0]
    labeller = FrameDifferenceLabeller()
    point = np.array([objects[0].x, objects[0].y, 0.0])
    with pytest.raises(ValueError, match="uint8"):
        labeller.label_view(ViewCapture(view.camera, view.before.astype(np.float32), view.after), point)
    with pytest.raises(ValueError, match="expected|expects"):
        labeller.label_view(ViewCapture(view.camera, view.before[:100], view.after), point)
    with pytest.raises(ValueError, match="finite"):
        labeller.label_interaction([view], np.array([np.nan, 0.0, 0.0]))
    nan_depth = np.full((H, W), np.nan, np.float32)
    with pytest.raises(ValueError, match="NaN"):
        labeller.label_view(
            ViewCapture(view.camera, view.before, view.after, before_depth=nan_depth, after_depth=nan_depth), point
        )
    with pytest.raises(ValueError, match="lifted"):
        labeller.label_view(ViewCapture(view.camera, view.before, view.after, robot_mask=np.zeros((H, W), bool)), point)


def test_depth_with_some_nan_pixels_is_used(scene):
    objects = scene["objects"]
    target = objects[0]
    views, truth, _ = capture(scene, objects, objects[1:])
    depth_before = np.full((H, W), 0.9, np.float32)
    depth_before[truth[0][0]] = 0.85
    depth_before[:20] = np.nan  # sensor holes are ignored
    depth_after = np.full((H, W), 0.9, np.float32)
    view = views[0]
    labels = FrameDifferenceLabeller().label_view(
        ViewCapture(view.camera, view.before, view.after, before_depth=depth_before, after_depth=depth_after),
        np.array([target.x, target.y, 0.0]),
    )
    assert labels.examples[0].positive
    assert iou(labels.examples[0].mask, truth[0][0]) > 0.75


def test_config_scales_with_resolution():
    params = LabellerConfig().scaled(320, 240)
    assert params["crop"] == 120 and params["min_area"] == 250


def test_whole_crop_changed_gives_no_label(scene):
    objects = scene["objects"]
    views, _, _ = capture(scene, objects, objects)
    view = views[0]
    other = np.ascontiguousarray(view.after[::-1, ::-1])  # as if the camera had been knocked
    labels = FrameDifferenceLabeller().label_view(
        ViewCapture(view.camera, view.before, other), np.array([objects[0].x, objects[0].y, 0.0])
    )
    assert labels.examples == [] and "camera motion" in labels.notes[0]


@pytest.mark.parametrize("views_agree", [True, False])
def test_a_view_that_misses_the_move_gives_no_negative_when_another_saw_it(scene, views_agree):
    objects = scene["objects"]
    target = FlatObject(0.25, -0.2, 0.05, 0.035, 0.3, (30, 60, 220), "box")
    views, _, _ = capture(scene, objects + [target], objects, gain_after=1.0)
    # cam1 sees nothing change (as when the object is hidden from it): its after image is its before image
    views[1] = ViewCapture(views[1].camera, views[1].before, views[1].before.copy())
    labels = FrameDifferenceLabeller(LabellerConfig(views_agree=views_agree)).label_interaction(
        views, np.array([target.x, target.y, 0.0])
    )
    assert labels[0].examples[0].positive
    if views_agree:
        assert labels[1].examples == []
        assert "cam0" in labels[1].notes[-1] and "saw the object move" in labels[1].notes[-1]
    else:
        assert not labels[1].examples[0].positive
