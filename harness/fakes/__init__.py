"""Loopback fakes of the third parties' APIs the ready-made handlers write to, each written from the
vendor's published API reference (paths, methods, auth headers, payload shapes, status codes). Each
records the requests that arrived and the values it now stores, and can be told to fail."""
