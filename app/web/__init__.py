"""The web console: the engine's second adapter beside the CLI (``plancycle web``). See ``app.web.server``."""
