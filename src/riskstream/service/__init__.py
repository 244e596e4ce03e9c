"""The FastAPI service: REST and WebSocket API, dashboard, metrics and authentication."""
