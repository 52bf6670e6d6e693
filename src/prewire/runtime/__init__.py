"""Container runtimes whose starts and stops the agent detects (lab netns, Docker events)."""
