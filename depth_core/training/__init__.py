"""Training: datasets over DepthSamples, the YAML-configured trainer (single process or
torchrun/DDP), used by the scripts in training/."""
