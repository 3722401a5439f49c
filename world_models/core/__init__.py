"""The pieces every model family shares: the interface, configs, presets, checkpoints, the text encoder."""
