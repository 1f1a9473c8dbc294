"""Presentation: Rich tables and matplotlib figures. Only this layer and cli/ print."""
