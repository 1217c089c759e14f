"""Local stand-ins for the platforms relaykit deploys to (see ``relaykit.local.emulator``)."""
