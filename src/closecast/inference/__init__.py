"""The one inference path: an artifact in, a forecast out (Python, CLI and server)."""
