"""`ocis tui`: a Textual browser for spaces, files and transfers over the client SDK.

Importing this package is cheap; Textual is loaded by `ocis_tui.app` only.
"""
