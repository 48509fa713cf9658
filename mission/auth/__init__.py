"""Users, roles, sessions and integration keys (README "Users and roles")."""
