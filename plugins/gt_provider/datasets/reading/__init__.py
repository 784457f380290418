"""Reading Ground Truth's output augmented manifests: lines, label shapes per output type, artifacts."""
