"""depth_core: ROS-free metric depth estimation and recovery with per-pixel uncertainty.

Models, losses, data, training, evaluation, export and the runtime estimator live here. Nothing
in this package imports ROS, so it trains offline and runs inside any node or script.
"""

__version__ = "0.1.0"
