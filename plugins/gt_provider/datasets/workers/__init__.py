"""A labeling job's worker responses: reading them, and each worker's agreement and accuracy."""
