"""Rows as models see them: images decoded and prompts cleaned (or why not), and procedural data."""
