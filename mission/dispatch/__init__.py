"""Auto-dispatch: rules that send (or propose) the best drone for a new incident."""
