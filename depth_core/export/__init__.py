"""From a trained model to deployable files."""
