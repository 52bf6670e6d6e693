"""Command-line interface: translation only, every command calls into the layers below."""
