"""Test helpers: tiny configs, a live server, sample data."""
