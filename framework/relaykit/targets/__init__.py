"""Targets (layer 4): the adapters that serve an ``App`` somewhere. They depend on the core;
the core never imports them except by name, on first use."""
