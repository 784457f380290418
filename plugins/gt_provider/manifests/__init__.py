"""Input manifests: building and checking them (standard library only)."""
