"""Sync and sharing: the wire protocol (PROTOCOL.md), sealed envelopes, the relay
server and the client engine. Nothing here imports Qt."""
