"""The HTTP API: app factory, routers, request/response schemas, auth dependencies."""
