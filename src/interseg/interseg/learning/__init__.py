"""The learning core (ROS-free, simulator-free): hypothesis network, frame-difference labelling,
losses (incl. the Robust Set Loss), examples store, dataset, trainer engine, metrics and a
bottom-up baseline.

Scale convention used throughout: every pixel coordinate, mask and image handed to or returned
by this package is at the camera's full resolution (e.g. 640x480). The network internally works
at ``ModelConfig.input_scale`` times that resolution (0.5 by default); training windows are
``ModelConfig.window`` pixels at the network scale (80 by default, i.e. 160x160 full-resolution
pixels at 640x480: every object of the test split fits in one).

What the nodes call (each module's docstring says why it works the way it does):

* hypotheses: ``predictor.HypothesisPredictor(model.HypothesisNetwork(model.ModelConfig(...)))``
  or ``HypothesisPredictor.from_checkpoint(path)`` (raises ``checkpoint.CheckpointError``; build
  the new predictor first, then swap), then ``predictor.predict(rgb) -> list[hypothesis.Hypothesis]``.
* labeller: ``labelling.FrameDifferenceLabeller(LabellerConfig(...)).label_interaction(
  [ViewCapture, ...], grasp_xyz, place_xyz) -> list[ViewLabels]``; each ``LabelledExample`` goes
  to ``store.ExampleStore(root, writer=True).add_example(example, interaction_id=...)``.
  ``labelling.something_moved(before, after)`` is the cheap check.
* trainer: ``trainer.Trainer(run_dir, ModelConfig, trainer_config.TrainerConfig)``, ``resume()``,
  ``run_online(store_root, on_checkpoint=callback, stop=event)``; the callback gets a
  ``checkpoint.CheckpointInfo`` (version, path, step, examples_seen, metrics) for ModelUpdate.
* pre-training: ``pretrain.train_on_store`` on a store of push examples (collected by
  :mod:`interseg.sim.push_examples` or the push_collector node; frames become masks with
  ``motion_masks.MotionMaskExtractor``). Nothing here imports the simulator.
* evaluation: ``metrics.mask_ap`` / ``metrics.evaluate_predictor`` (AP@0.3 and AP@0.5),
  ``metrics.recall_of_chosen``; ``baselines.bottom_up_proposals`` for the GOP stand-in.
"""
