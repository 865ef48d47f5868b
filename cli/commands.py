"""Further sub-commands (calendar, decision, demo) register here."""
