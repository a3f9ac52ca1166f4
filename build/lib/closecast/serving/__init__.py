"""The HTTP service: settings, the artifact registry, request/response schemas and the FastAPI app."""
