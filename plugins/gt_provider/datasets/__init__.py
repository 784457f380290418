"""From output augmented manifests to training datasets (standard library only)."""
