"""HTTP API v1 for sellers' own sites: endpoints, schemas, API keys and their rate limits."""
