"""Screens: the browser (spaces on the left, files on the right)."""
