"""The one rule book of sharing, below every protocol that renders it (OCS, LibreGraph, next OCM):
who may share what with whom and with which role (`shares`, `members`, `links`), expiry and
password policy (`rules`, `links`), what a share becomes (`received`: a mount point in the share
jail; `federated`: a share another OCM server sent, a registry entry) and what each change emits
(`events`). Handlers parse their protocol, call here, render.
"""
