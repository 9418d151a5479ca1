"""The tower side of a cloud delivery, running inside the gateway.

A provisioned gateway is a cloud *tower*: it verifies cloud-signed locker tokens offline, opens the
door through the lock-controller driver, keeps a signed append-only event log, applies cloud
commands (release tokens) once each, and syncs with the cloud when it can.
"""
