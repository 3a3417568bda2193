"""Training the IQPFR model in three stages (no Qt)."""
