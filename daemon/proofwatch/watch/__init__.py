"""Watching the upload folder: filesystem events in, paths to examine out."""
