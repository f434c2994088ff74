"""The HTTP API (``agentworker api``): FastAPI routes under ``/v1`` for services with a tenant
API key, over the same service functions as the Python client."""
