"""The learning core (ROS-free): hypothesis network, frame-difference labelling, losses (incl.
the Robust Set Loss), examples store, dataset, trainer engine, metrics and a bottom-up baseline.

Scale convention used throughout: every pixel coordinate, mask and image handed to or returned
by this package is at the camera's full resolution (e.g. 640x480). The network internally works
at ``ModelConfig.input_scale`` times that resolution (0.5 by default); training windows are
``ModelConfig.window`` pixels at the network scale (112 by default, i.e. 224x224 full-resolution
pixels, about the labeller's 240x240 crop at 640x480).
"""
