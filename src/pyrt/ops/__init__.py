"""Operations: the typer CLI, the control facade, the REST control API, health, backup and reconciliation."""
