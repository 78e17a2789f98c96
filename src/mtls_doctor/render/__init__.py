"""Renderers: text for people, JSON for scripts. Rendering decides nothing."""
