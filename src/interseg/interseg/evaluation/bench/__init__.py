"""`interseg bench`: the paper's Table 1 and Figure 2 on the held-out test split, with baselines,
label quality, throughput and seed variance, in one command.

Why one command: every learned method sees the same training scenes and the same number of
optimizer steps, so the ratios between them are fair; and the numbers, plots and COCO files of
one run sit together in one folder.

Once per profile (cached): **passive pre-training**, Algorithm 1's step 1
(:mod:`interseg.evaluation.pretrained_start`: ``Profile.pretrain_frames`` frames of random pushes,
frame-difference masks, ``pretrain_steps`` steps); every learner of every seed starts from it
(``--start random``: from random weights instead).

Per seed:

1. **Collect** interactions with Algorithm 1's interaction step run in-process
   (:class:`interseg.interaction.InteractionRunner`: the steps the node graph calls): render the
   four views -> the current network proposes hypotheses on the main view -> one is chosen
   uniformly -> :func:`~interseg.interaction.plan_grasp_and_place` (the grasp planner's
   workspace and place region) -> ``SimulatedArena.pick_place`` -> render again ->
   ``FrameDifferenceLabeller`` -> examples store (from random weights, the robot tests bottom-up
   proposals until the first model update: a label-free stand-in for passive pre-training, see
   ``Profile.bootstrap_bottom_up``). Every ``round_every`` interactions the learner (Robust Set
   Loss) trains ``steps_per_round`` steps and its checkpoint becomes the policy. Running the loop in-process
   rather than through ``interseg launch`` is what lets the harness read the ground truth of the
   very scene the labeller saw (for label quality, the efficacy of experimentation, and the
   oracle's training masks); the learning side never sees it.
2. **Train** on the same store and the same schedule (same examples available at every round,
   same steps, same seed, same start): plain cross-entropy (replayed; the data were collected by the RSL
   learner), and the supervised oracle (the same network on ground-truth masks of the same
   before-images, all four views). Torchvision Mask R-CNN (ResNet-18 FPN backbone, no pretrained
   weights, class-agnostic) trains on the same ground truth for the oracle's wall-clock seconds.
3. **Score** on the test split's main view (unseen objects and backgrounds): mask AP at IoU 0.3
   and 0.5 with pycocotools; every checkpoint of the run for AP versus interactions.

Once per run: the bottom-up baseline untuned and tuned on the validation split (a small grid of
``BottomUpConfig``; it is deterministic, so its seeds agree).

Modules: ``profiles`` (run sizes, method names, the paper's numbers), ``collection`` (step 1,
on :mod:`interseg.interaction`'s runner), ``methods`` (step 2: cross-entropy replay, oracle,
Mask R-CNN), ``scoring`` (AP and label quality), ``report`` (plots, HTML, markdown), ``cli``
(the whole run and the command line).

Output folder: ``bench.json`` (every number), ``coco/`` (ground truth and detections of every
scored method and seed, so AP can be recomputed), PNG plots, ``index.html`` and ``RESULTS.md``.
"""
