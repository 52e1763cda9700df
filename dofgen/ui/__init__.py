"""Gradio user interface pieces; ``app.py`` composes them."""
