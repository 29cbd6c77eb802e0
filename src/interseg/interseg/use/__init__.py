"""Using a trained network outside the loop: `interseg segment` (images, folders, bags),
`interseg evaluate-images` (labelled tabletop sets) and what they share (ROS-free)."""
