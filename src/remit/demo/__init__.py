"""The embedded demo: a scripted AI agent asking Remit before it acts."""
