"""Health checks, Prometheus metrics and structured logs (issue 7, "Observability")."""
