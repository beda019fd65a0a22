"""Wire formats: request decoding and response encoding per protocol.

Rule: pure functions and pydantic models over bytes and plain data; no Flask, no HTTP status
codes. Errors are raised as ``pipeserve.errors`` types and mapped to statuses by the API layer.
"""
