"""Model providers behind the ``relaykit.model.Model`` protocol (layer 3 of the design)."""
