"""The append-only audit log: who did what, when, to which drone or mission, and how it ended."""
