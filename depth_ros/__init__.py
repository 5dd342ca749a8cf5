"""depth_ros: thin rclpy nodes around the depth_core estimator."""
