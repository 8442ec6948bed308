"""Local stand-ins for services outside acolhe, for tests only."""
